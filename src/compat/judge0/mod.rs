mod callbacks;
mod error;
mod format;
mod request;
mod routes;
mod tables;
mod view;

pub use callbacks::{
    check_target, is_public, signature, CallbackDispatcher, CallbackError, SIGNATURE_HEADER,
};
pub use error::Judge0Error;
pub use format::{decimal, encode64, timestamp};
pub use routes::scope;
pub use tables::{status_of, Status, LANGUAGES, STATUSES};
