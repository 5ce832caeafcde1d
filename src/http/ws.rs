//! `GET /api/v1/ws`: upgrades to a WebSocket and starts its SessionActor.
//! Authentication: a credential (login token or API key) in `?token=`
//! (browsers cannot set headers on a WebSocket) or `Authorization: Bearer`
//! is checked before the upgrade; without one, the session waits for
//! `{"type":"auth","token"}` as its first frame. A bad credential still
//! upgrades and the socket is then closed with 1008 (policy violation)
//! before any event flows — a browser sees a close code, never the HTTP
//! status of a failed handshake — and 1011 when the account store cannot
//! answer. A request that is not a handshake gets the usual JSON 401 for a
//! missing or bad credential, else 400. [`verify_token`] is the one place a
//! WebSocket asks who a credential belongs to. Each session is told to
//! close with 1001 going-away when the process shuts down.

use super::caller::Caller;
use super::errors::{ApiError, ErrorBody};
use crate::actors::session::{AuthRefusal, GoingAway, SessionAuth, SessionServices, TokenVerifier};
use crate::actors::SessionActor;
use crate::api_state::ApiState;
use crate::auth::AuthError;
use actix::{Actor, ActorFutureExt, AsyncContext};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::CloseReason;
use serde::Deserialize;
use std::rc::Rc;

#[derive(Debug, Deserialize)]
struct WsQuery {
    token: Option<String>,
}

/// Open the WebSocket (JSON frames; see the README).
#[utoipa::path(
    get, path = "/api/v1/ws", tag = "submissions", security(("bearer" = [])),
    params(("token" = Option<String>, Query, description = "Login token or API key, for clients that cannot set headers; without one, the first frame must be {\"type\":\"auth\",\"token\"}")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; a bad credential is closed with 1008 before any event"),
        (status = 400, description = "Not a WebSocket handshake", body = ErrorBody),
        (status = 401, description = "Not a WebSocket handshake, and a missing or bad credential", body = ErrorBody),
    )
)]
pub async fn connect(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let credential = token_of(&request);
    let checked = match &credential {
        Some(token) => Some(verify_token(&state, token).await),
        None => None,
    };
    let (response, session, stream) = match actix_ws::handle(&request, body) {
        Ok(handshake) => handshake,
        // Not a WebSocket handshake: an ordinary HTTP client, which can be
        // told about its credential with a status like any other route.
        Err(error) => {
            return Err(match checked {
                None => AuthError::MissingCredentials.into(),
                Some(Err(refused)) => refused.into(),
                Some(Ok(_)) => ApiError::bad_request("websocket.handshake", error.to_string()),
            })
        }
    };
    let auth = match checked {
        Some(Ok(caller)) => SessionAuth::User(caller.user_id),
        Some(Err(refused)) => {
            let refusal = AuthRefusal::from(refused);
            tracing::info!(?refusal, "websocket refused");
            let reason = CloseReason {
                code: refusal.close_code(),
                description: Some(refusal.to_string()),
            };
            actix_rt::spawn(async move {
                let _ = session.close(Some(reason)).await;
                drop(stream);
            });
            return Ok(response);
        }
        None => {
            let state = state.clone();
            let verifier: TokenVerifier = Rc::new(move |token: String| {
                let state = state.clone();
                Box::pin(async move {
                    verify_token(&state, &token)
                        .await
                        .map(|caller| caller.user_id)
                        .map_err(AuthRefusal::from)
                })
            });
            SessionAuth::FirstFrame(verifier)
        }
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
    let shutdown = state.shutdown.clone();
    SessionActor::create(|ctx| {
        ctx.add_stream(stream);
        // Dropped with the session; on shutdown the client is told to go
        // elsewhere (1001) instead of being cut off when the server stops.
        ctx.spawn(
            actix::fut::wrap_future::<_, SessionActor>(shutdown.cancelled_owned())
                .map(|(), _, ctx| ctx.notify(GoingAway)),
        );
        SessionActor::new(auth, session, services)
    });
    Ok(response)
}

/// The credential of the upgrade request: `?token=`, else
/// `Authorization: Bearer`; an empty one counts as none.
fn token_of(request: &HttpRequest) -> Option<String> {
    let query = web::Query::<WsQuery>::from_query(request.query_string())
        .ok()
        .and_then(|query| query.into_inner().token);
    query
        .or_else(|| {
            let value = request
                .headers()
                .get(header::AUTHORIZATION)?
                .to_str()
                .ok()?;
            let (scheme, credential) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credential.trim().to_string())
        })
        .filter(|token| !token.is_empty())
}

/// Who `token` (a login JWT or an `rce_…` API key) belongs to.
pub async fn verify_token(state: &ApiState, token: &str) -> Result<Caller, AuthError> {
    let identity = state.accounts.authenticate(token).await?;
    Ok(Caller {
        user_id: identity.user_id,
        key_id: identity.key_id,
    })
}

impl From<AuthError> for AuthRefusal {
    fn from(error: AuthError) -> AuthRefusal {
        match error {
            AuthError::Store(error) => {
                tracing::warn!(%error, "the account store cannot check a websocket credential");
                AuthRefusal::Unavailable
            }
            other => AuthRefusal::Invalid(other.to_string()),
        }
    }
}
