//! `GET /api/v1/ws`: upgrades to a WebSocket and starts its SessionActor.

use super::caller::Caller;
use super::server::ApiState;
use crate::actors::SessionActor;
use actix::{Actor, AsyncContext};
use actix_web::{web, HttpRequest, HttpResponse};

pub async fn connect(
    state: web::Data<ApiState>,
    caller: Caller,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, session, stream) = actix_ws::handle(&request, body)?;
    let stream = stream
        .max_frame_size(state.http.max_ws_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.http.max_ws_message_bytes);
    SessionActor::create(|ctx| {
        ctx.add_stream(stream);
        SessionActor::new(
            caller.user_id,
            session,
            state.bridge.clone(),
            state.intake.clone(),
        )
    });
    Ok(response)
}
