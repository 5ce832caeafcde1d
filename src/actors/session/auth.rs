//! How a WebSocket session learns its user: [`SessionAuth`] (a token in the
//! upgrade, or an `auth` first frame checked by a [`TokenVerifier`]) and why
//! a credential is refused ([`AuthRefusal`], which picks the close code).

use actix_ws::CloseCode;
use futures_util::future::LocalBoxFuture;
use std::rc::Rc;

/// Why a credential was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRefusal {
    /// Not valid (unknown, tampered, expired…): close 1008.
    Invalid(String),
    /// The account store could not answer: close 1011, try again later.
    Unavailable,
}

impl AuthRefusal {
    pub fn close_code(&self) -> CloseCode {
        match self {
            AuthRefusal::Invalid(_) => CloseCode::Policy,
            AuthRefusal::Unavailable => CloseCode::Error,
        }
    }
}

impl std::fmt::Display for AuthRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthRefusal::Invalid(reason) => write!(f, "{reason}"),
            AuthRefusal::Unavailable => f.write_str("authentication is unavailable; try again"),
        }
    }
}

/// Checks a credential; the user it belongs to, or why not.
pub type TokenVerifier = Rc<dyn Fn(String) -> LocalBoxFuture<'static, Result<String, AuthRefusal>>>;

/// How the session learns its user.
pub enum SessionAuth {
    /// The upgrade request carried a valid token.
    User(String),
    /// The first frame must be `{"type":"auth","token"}`.
    FirstFrame(TokenVerifier),
}
