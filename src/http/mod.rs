mod caller;
mod errors;
mod health;
mod languages;
mod server;
mod settings;
mod static_files;
mod submissions;
mod ws;

pub use caller::Caller;
pub use errors::ApiError;
pub use server::{configure, ApiState};
pub use settings::HttpSettings;
