mod error;
mod request;
mod result;
mod routes;
mod runtimes;
mod ws;

pub use error::PistonError;
pub use routes::{scope, ANONYMOUS_USER};
pub use runtimes::{signal_name, signal_number, Runtime};
