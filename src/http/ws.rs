//! `GET /api/v1/ws`: authenticates (the `Authorization` header or, since
//! browsers cannot set headers on a WebSocket, `?token=`: a login token or an
//! API key), answers 401 before any upgrade when that fails, then upgrades
//! and starts the connection's SessionActor for the caller, which is told to
//! close with going-away when the process shuts down.

use super::caller::Caller;
use super::errors::{ApiError, ErrorBody};
use super::server::ApiState;
use crate::actors::session::GoingAway;
use crate::actors::SessionActor;
use actix::{Actor, ActorFutureExt, AsyncContext};
use actix_web::{web, HttpRequest, HttpResponse};

/// Open the WebSocket (JSON frames; see the README).
#[utoipa::path(
    get, path = "/api/v1/ws", tag = "submissions", security(("bearer" = [])),
    params(("token" = Option<String>, Query, description = "Login token or API key, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket handshake", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn connect(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = Caller::from_header_or_query(&request).await?;
    let (response, session, stream) = actix_ws::handle(&request, body)
        .map_err(|error| ApiError::bad_request("websocket.handshake", error.to_string()))?;
    let stream = stream
        .max_frame_size(state.http.max_ws_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.http.max_ws_message_bytes);
    tracing::debug!(user_id = %caller.user_id, "websocket opened");
    let shutdown = state.shutdown.clone();
    SessionActor::create(|ctx| {
        ctx.add_stream(stream);
        // Dropped with the session; on shutdown the client is told to go
        // elsewhere (1001) instead of being cut off when the server stops.
        ctx.spawn(
            actix::fut::wrap_future::<_, SessionActor>(shutdown.cancelled_owned())
                .map(|(), _, ctx| ctx.notify(GoingAway)),
        );
        SessionActor::new(
            caller.user_id,
            session,
            state.bridge.clone(),
            state.intake.clone(),
        )
    });
    Ok(response)
}
