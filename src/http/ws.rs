//! `GET /api/v1/ws`: upgrades to a WebSocket and starts its SessionActor,
//! which is told to close with going-away when the process shuts down.

use super::caller::Caller;
use super::server::ApiState;
use crate::actors::session::GoingAway;
use crate::actors::SessionActor;
use actix::{Actor, ActorFutureExt, AsyncContext};
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
