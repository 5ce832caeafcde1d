mod accounts;
mod caller;
mod errors;
mod health;
mod languages;
mod openapi;
mod server;
mod settings;
mod static_files;
mod submissions;
mod ws;

pub use caller::Caller;
pub use errors::{ApiError, ErrorBody};
pub use health::{probe_routes, track_request, Readiness};
pub use openapi::ApiDoc;
pub use server::{configure, ApiState};
pub use settings::HttpSettings;
