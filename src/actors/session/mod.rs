//! The API v1 WebSocket session (`/api/v1/ws`), one actor per connection,
//! split by concern: [`actor`] is the SessionActor itself (lifecycle,
//! authentication, heartbeat); [`requests`] handles the client's frames;
//! [`delivery`] sends its user's events with the slow-client policy;
//! [`outbox`] is the ordered outgoing queue and its writer task;
//! [`control`] forwards `stdin`/`kill` to the worker through Redis; [`auth`]
//! holds the authentication types. Its settings are `ws` in
//! [`crate::actors::settings`].

mod actor;
mod auth;
mod control;
mod delivery;
mod outbox;
mod requests;

pub use actor::{GoingAway, SessionActor, SessionServices};
pub use auth::{AuthRefusal, SessionAuth, TokenVerifier};
pub use delivery::{Deliver, Drained};
