mod caller;
mod errors;
mod health;
mod languages;
mod server;
mod settings;
mod submissions;
mod ws;

pub use caller::Caller;
pub use errors::ApiError;
pub use health::{probe_routes, Readiness};
pub use server::{configure, ApiState};
pub use settings::HttpSettings;
