//! The one error type of the `auth` module, each variant named after the step
//! that failed. `http::errors` maps it to a status and a dotted code; nothing
//! here knows about HTTP.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` (or `?token=` on the WebSocket).
    #[error("authentication required: send Authorization: Bearer <token or API key>")]
    MissingCredentials,
    /// A JWT that does not verify: bad signature, wrong algorithm (`none`),
    /// wrong issuer, malformed.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("the token has expired; log in again")]
    ExpiredToken,
    /// A JWT issued before its user's last logout-all.
    #[error("the token was revoked by a logout from all sessions; log in again")]
    RevokedToken,
    /// A validly signed JWT (or a logout-all) for a user that does not
    /// exist: deleted, or a token signed outside this deployment.
    #[error("the token's user does not exist")]
    UnknownUser,
    /// An `rce_…` key that is not (or no longer) registered.
    #[error("unknown or revoked API key")]
    UnknownKey,
    /// Login with a wrong username or password (never says which).
    #[error("wrong username or password")]
    BadCredentials,
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    #[error("{0}")]
    InvalidUsername(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("{0}")]
    InvalidKeyName(String),
    #[error("at most {0} API keys per user; delete one first")]
    TooManyKeys(usize),
    #[error("no such API key")]
    NoSuchKey,
    /// Refused at start-up: the signing secret is unsafe for production.
    #[error("auth.jwt_secret: {0}")]
    WeakSecret(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("signing the token failed: {0}")]
    Sign(String),
    #[error("the account store is unavailable: {0}")]
    Store(String),
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> AuthError {
        AuthError::Store(error.to_string())
    }
}

impl From<actix::MailboxError> for AuthError {
    fn from(error: actix::MailboxError) -> AuthError {
        AuthError::Store(error.to_string())
    }
}
