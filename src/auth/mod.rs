mod accounts;
mod api_key;
mod error;
mod password;
mod settings;
mod throttle;
mod token;
mod token_versions;

pub use accounts::{Accounts, CreatedKey, Identity};
pub use api_key::{hash_secret, KEY_PREFIX};
pub use error::AuthError;
pub use password::PasswordHasher;
pub use settings::{AuthSettings, DEV_SECRET, MIN_SECRET_BYTES, PUBLISHED_SECRETS};
pub use throttle::{
    address_bucket, client_address, Cidr, Throttle, ThrottleError, ThrottleSettings,
};
pub use token::{Claims, TokenIssuer};
pub use token_versions::TokenVersionCache;
