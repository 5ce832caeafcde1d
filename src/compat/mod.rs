mod auth;
pub mod judge0;
pub mod piston;
mod routes;
mod settings;
pub mod wait;

pub use routes::configure;
pub use settings::{CompatSettings, Judge0Settings, PistonSettings};
