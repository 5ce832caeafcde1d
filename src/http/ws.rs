//! `GET /api/v1/ws`: upgrades to a WebSocket and starts its SessionActor.
//! Authentication: a token in `?token=` (browsers cannot set headers on a
//! WebSocket) or `Authorization: Bearer` is checked before the upgrade;
//! without one, the session waits for `{"type":"auth","token"}` as its first
//! frame. A bad token still upgrades and the socket is then closed with 1008
//! (policy violation) before any event flows: a browser sees a close code,
//! never the HTTP status of a failed handshake. [`verify_token`] is the one
//! place a WebSocket asks who a token (a login JWT or an API key) belongs to.

use super::caller::Caller;
use super::errors::{ApiError, ErrorBody};
use super::server::ApiState;
use crate::actors::session::{SessionAuth, SessionServices, TokenVerifier};
use crate::actors::SessionActor;
use actix::{Actor, AsyncContext};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason};
use serde::Deserialize;
use std::rc::Rc;

#[derive(Debug, Deserialize)]
struct WsQuery {
    token: Option<String>,
}

/// Open the WebSocket (JSON frames; see the README).
#[utoipa::path(
    get, path = "/api/v1/ws", tag = "submissions", security(("bearer" = [])),
    params(("token" = Option<String>, Query, description = "Login token or API key, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; a missing or invalid credential is closed with 1008"),
        (status = 400, description = "Not a WebSocket handshake", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn connect(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let auth = match token_of(&request) {
        Some(token) => verify_token(&state, &token)
            .await
            .map(|caller| SessionAuth::User(caller.user_id)),
        None => {
            let state = state.clone();
            let verifier: TokenVerifier = Rc::new(move |token: String| {
                let state = state.clone();
                Box::pin(async move {
                    verify_token(&state, &token)
                        .await
                        .map(|caller| caller.user_id)
                })
            });
            Some(SessionAuth::FirstFrame(verifier))
        }
    };
    let (response, session, stream) = actix_ws::handle(&request, body)
        .map_err(|error| ApiError::bad_request("websocket.handshake", error.to_string()))?;
    let Some(auth) = auth else {
        tracing::info!("websocket refused: invalid token");
        actix_rt::spawn(async move {
            let reason = CloseReason {
                code: CloseCode::Policy,
                description: Some("invalid token".into()),
            };
            let _ = session.close(Some(reason)).await;
            drop(stream);
        });
        return Ok(response);
    };
    let stream = stream
        .max_frame_size(state.http.max_ws_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.http.max_ws_message_bytes);
    let services = SessionServices {
        bridge: state.bridge.clone(),
        intake: state.intake.clone(),
        control: state.control.clone(),
        settings: state.ws.clone(),
    };
    SessionActor::create(|ctx| {
        ctx.add_stream(stream);
        SessionActor::new(auth, session, services)
    });
    Ok(response)
}

/// The token of the upgrade request: `?token=`, else `Authorization: Bearer`.
fn token_of(request: &HttpRequest) -> Option<String> {
    let query = web::Query::<WsQuery>::from_query(request.query_string())
        .ok()
        .and_then(|query| query.into_inner().token);
    query.or_else(|| {
        let value = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        value
            .strip_prefix("Bearer ")
            .map(|token| token.trim().to_string())
    })
}

/// Who `token` belongs to (a login JWT or an `rce_…` API key, as
/// [`crate::auth::Accounts::authenticate`] decides), or `None` when it is
/// not valid.
pub async fn verify_token(state: &ApiState, token: &str) -> Option<Caller> {
    let identity = state.accounts.authenticate(token).await.ok()?;
    Some(Caller {
        user_id: identity.user_id,
        key_id: identity.key_id,
    })
}
