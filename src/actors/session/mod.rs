//! The API v1 WebSocket session (`/api/v1/ws`), one actor per connection,
//! split by concern: [`actor`] is the SessionActor itself (lifecycle,
//! authentication, heartbeat); [`requests`] handles the client's frames;
//! [`delivery`] sends its user's events with the slow-client policy;
//! [`frames`] puts API v1 events and errors on the outbox of the shared
//! WebSocket engine ([`crate::ws`], which also owns the `ws` settings);
//! [`control`] forwards `stdin`/`kill` to the worker through Redis; [`auth`]
//! holds the authentication types.

mod actor;
mod auth;
mod control;
mod delivery;
mod frames;
mod requests;

pub use actor::{GoingAway, SessionActor, SessionServices};
pub use auth::{AuthRefusal, SessionAuth, TokenVerifier};
pub use delivery::Deliver;
