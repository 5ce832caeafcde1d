//! The `auth` section of the configuration: the JWT signing secret, issuer
//! and lifetime, the Argon2id cost, and the per-user API key cap. In
//! production (`RCE_ENV=production`) [`AuthSettings::check`] refuses the
//! built-in development secret and any secret shorter than 32 bytes, so a
//! forgotten setting stops the server instead of making tokens forgeable.

use super::AuthError;
use serde::Deserialize;

/// The signing secret used when none is configured. Public (it is in the
/// source), so it is refused in production.
pub const DEV_SECRET: &str = "rce-development-secret-do-not-use-in-production";
/// Shortest secret accepted in production: HS256's key should be at least as
/// long as its 256-bit output.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 signing secret for login tokens; every API process of a
    /// deployment must share it.
    pub jwt_secret: String,
    /// `iss` of issued tokens; tokens with another issuer are refused.
    pub jwt_issuer: String,
    /// Lifetime of a login token.
    pub token_ttl_secs: u64,
    /// Argon2id memory cost in KiB (OWASP's minimum for t=2 is 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// API keys one user may hold at once (each is a row checked on every use).
    pub max_api_keys: usize,
    /// The login/register throttle (`auth.throttle.*`).
    pub throttle: super::ThrottleSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: DEV_SECRET.into(),
            jwt_issuer: "rce".into(),
            token_ttl_secs: 24 * 3600,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_api_keys: 20,
            throttle: super::ThrottleSettings::default(),
        }
    }
}

impl AuthSettings {
    /// Refuses settings that are unsafe for `environment` (`RCE_ENV`).
    pub fn check(&self, environment: &str) -> Result<(), AuthError> {
        if self.jwt_secret.is_empty() {
            return Err(AuthError::WeakSecret("must not be empty".into()));
        }
        if self.token_ttl_secs == 0 {
            return Err(AuthError::WeakSecret(
                "auth.token_ttl_secs must be at least 1".into(),
            ));
        }
        if environment == "production" {
            if self.jwt_secret == DEV_SECRET {
                return Err(AuthError::WeakSecret(
                    "the built-in development secret is refused when RCE_ENV=production; set RCE_AUTH__JWT_SECRET".into(),
                ));
            }
            if self.jwt_secret.len() < MIN_SECRET_BYTES {
                return Err(AuthError::WeakSecret(format!(
                    "{} bytes is too short for RCE_ENV=production (at least {MIN_SECRET_BYTES})",
                    self.jwt_secret.len()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Production refuses the development secret and short secrets; any
    /// other environment accepts them.
    #[test]
    fn production_refuses_weak_secrets() {
        let dev = AuthSettings::default();
        assert!(dev.check("development").is_ok());
        assert!(dev.check("production").is_err());
        let short = AuthSettings {
            jwt_secret: "x".repeat(MIN_SECRET_BYTES - 1),
            ..AuthSettings::default()
        };
        assert!(short.check("production").is_err());
        let good = AuthSettings {
            jwt_secret: "x".repeat(MIN_SECRET_BYTES),
            ..AuthSettings::default()
        };
        assert!(good.check("production").is_ok());
        let empty = AuthSettings {
            jwt_secret: String::new(),
            ..AuthSettings::default()
        };
        assert!(empty.check("development").is_err());
    }
}
