//! Accounts: registering (validated name, Argon2id-hashed password), logging
//! in (a JWT carrying the user's token version), deciding who a bearer
//! credential belongs to (a JWT or an `rce_…` API key), revoking every login
//! token of a user (logout-all raises the version), and managing a user's API
//! keys. A JWT is accepted only while its user exists and its `ver` is the
//! user's current version, read through a short-lived [`TokenVersionCache`];
//! API keys are checked against the store on every use and are revoked one
//! by one, not by logout-all. The HTTP layer calls this; persistence goes
//! through StoreActor.

use super::api_key::{self, KEY_PREFIX};
use super::{AuthError, AuthSettings, Claims, PasswordHasher, TokenIssuer, TokenVersionCache};
use crate::actors::store::{
    BumpTokenVersion, DeleteApiKey, FindApiKey, FindUserByName, GetUser, InsertApiKey, InsertUser,
    ListApiKeys, StoreActor,
};
use crate::store::{ApiKey, StoreError, User};
use actix::Addr;
use time::OffsetDateTime;
use uuid::Uuid;

/// Usernames: 3 to 32 characters.
pub const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=32;
/// Passwords: 8 to 128 characters (a cap, so nobody makes the server hash a
/// megabyte).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
/// API key names: up to 64 characters.
pub const MAX_KEY_NAME_CHARS: usize = 64;

/// Who a credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    /// Set when the credential was an API key.
    pub key_id: Option<String>,
}

/// A new API key: the stored record and the secret, shown once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Clone)]
pub struct Accounts {
    store: Addr<StoreActor>,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
    /// Users' token versions as last read, shared by every HTTP worker
    /// thread of this process.
    versions: TokenVersionCache,
    max_api_keys: usize,
}

/// Checks a username: letters, digits, `_`, `.`, `-`, starting with a letter
/// or digit; nothing that could be read as markup, a path or a query.
pub fn check_username(username: &str) -> Result<(), AuthError> {
    let chars = username.chars().count();
    if !USERNAME_CHARS.contains(&chars) {
        return Err(AuthError::InvalidUsername(format!(
            "username must be {} to {} characters",
            USERNAME_CHARS.start(),
            USERNAME_CHARS.end()
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if !username.chars().all(allowed) || !username.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err(AuthError::InvalidUsername(
            "username may hold only letters, digits, '_', '.' and '-', and must start with a letter or digit".into(),
        ));
    }
    Ok(())
}

/// Checks a password's length (its content is the user's business).
pub fn check_password(password: &str) -> Result<(), AuthError> {
    let chars = password.chars().count();
    if !PASSWORD_CHARS.contains(&chars) {
        return Err(AuthError::InvalidPassword(format!(
            "password must be {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    Ok(())
}

impl Accounts {
    pub fn new(settings: &AuthSettings, store: Addr<StoreActor>) -> Result<Accounts, AuthError> {
        Ok(Accounts {
            store,
            hasher: PasswordHasher::new(settings)?,
            tokens: TokenIssuer::new(settings),
            versions: TokenVersionCache::new(std::time::Duration::from_millis(
                settings.user_cache_ttl_ms,
            )),
            max_api_keys: settings.max_api_keys,
        })
    }

    /// Seconds a login token stays valid.
    pub fn token_ttl_secs(&self) -> u64 {
        self.tokens.ttl_secs()
    }

    /// Creates an account.
    pub async fn register(&self, username: String, password: String) -> Result<User, AuthError> {
        check_username(&username)?;
        check_password(&password)?;
        let password_hash = self.hasher.hash(password).await?;
        let user = User {
            id: Uuid::now_v7().to_string(),
            username,
            password_hash,
            created_at: OffsetDateTime::now_utc(),
            token_version: 0,
        };
        match self.store.send(InsertUser { user: user.clone() }).await? {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict(_)) => Err(AuthError::UsernameTaken(user.username)),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks a username and password; returns the user and a fresh token.
    /// A wrong name and a wrong password are indistinguishable, in the
    /// answer and in its timing.
    pub async fn login(
        &self,
        username: String,
        password: String,
    ) -> Result<(User, String), AuthError> {
        if username.chars().count() > *USERNAME_CHARS.end() {
            return Err(AuthError::BadCredentials);
        }
        check_password(&password).map_err(|_| AuthError::BadCredentials)?;
        let Some(user) = self.store.send(FindUserByName { username }).await?? else {
            self.hasher.verify_decoy(password).await?;
            return Err(AuthError::BadCredentials);
        };
        if !self
            .hasher
            .verify(password, user.password_hash.clone())
            .await?
        {
            return Err(AuthError::BadCredentials);
        }
        let token = self
            .tokens
            .issue(&user.id, &user.username, user.token_version)?;
        self.versions.remember(&user.id, user.token_version);
        Ok((user, token))
    }

    /// Whose credential this is: an API key (`rce_…`) or a login token.
    pub async fn authenticate(&self, credential: &str) -> Result<Identity, AuthError> {
        if credential.starts_with(KEY_PREFIX) {
            let hash = api_key::hash_secret(credential);
            let key = self
                .store
                .send(FindApiKey { hash })
                .await??
                .ok_or(AuthError::UnknownKey)?;
            return Ok(Identity {
                user_id: key.user_id,
                key_id: Some(key.id),
            });
        }
        let claims = self.tokens.verify(credential)?;
        self.check_token_version(&claims).await?;
        Ok(Identity {
            user_id: claims.sub,
            key_id: None,
        })
    }

    /// Accepts a verified token only while its user exists and `ver` is
    /// the user's current token version. A cached version at least as new
    /// as the token's decides without the store; a token newer than the
    /// cache (a login after a logout-all on another process) makes this
    /// process read the store rather than refuse it.
    async fn check_token_version(&self, claims: &Claims) -> Result<(), AuthError> {
        let current = match self.versions.get(&claims.sub) {
            Some(cached) if claims.ver <= cached => cached,
            _ => {
                let Some(user) = self.user(&claims.sub).await? else {
                    tracing::warn!(
                        user_id = %claims.sub,
                        "refused a validly signed login token for a user that does not exist"
                    );
                    return Err(AuthError::UnknownUser);
                };
                self.versions.remember(&user.id, user.token_version);
                user.token_version
            }
        };
        if claims.ver < current {
            tracing::info!(
                user_id = %claims.sub,
                token_version = claims.ver,
                current_version = current,
                "refused a login token revoked by logout-all"
            );
            return Err(AuthError::RevokedToken);
        }
        if claims.ver > current {
            return Err(AuthError::InvalidToken(
                "the token's version is newer than its account's".into(),
            ));
        }
        Ok(())
    }

    /// Revokes every login token issued to the user so far (API keys are
    /// untouched); returns the user's new token version. This process
    /// refuses the old tokens at once, other API processes within
    /// `auth.user_cache_ttl_ms`.
    pub async fn logout_all(&self, user_id: &str) -> Result<u64, AuthError> {
        let version = self
            .store
            .send(BumpTokenVersion {
                user_id: user_id.to_string(),
            })
            .await??
            .ok_or(AuthError::UnknownUser)?;
        self.versions.remember(user_id, version);
        Ok(version)
    }

    /// The account behind an id.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, AuthError> {
        Ok(self
            .store
            .send(GetUser {
                id: user_id.to_string(),
            })
            .await??)
    }

    /// Creates an API key for the user; the secret is in the answer only.
    pub async fn create_key(
        &self,
        user_id: &str,
        name: Option<String>,
    ) -> Result<CreatedKey, AuthError> {
        let name = name.unwrap_or_default();
        if name.chars().count() > MAX_KEY_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(AuthError::InvalidKeyName(format!(
                "name must be at most {MAX_KEY_NAME_CHARS} characters, without control characters"
            )));
        }
        let existing = self.list_keys(user_id).await?;
        if existing.len() >= self.max_api_keys {
            return Err(AuthError::TooManyKeys(self.max_api_keys));
        }
        let (secret, prefix) = api_key::generate()?;
        let key = ApiKey {
            id: Uuid::now_v7().to_string(),
            user_id: user_id.to_string(),
            name,
            prefix,
            hash: api_key::hash_secret(&secret),
            created_at: OffsetDateTime::now_utc(),
        };
        self.store.send(InsertApiKey { key: key.clone() }).await??;
        Ok(CreatedKey { key, secret })
    }

    pub async fn list_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, AuthError> {
        Ok(self
            .store
            .send(ListApiKeys {
                user_id: user_id.to_string(),
            })
            .await??)
    }

    /// Revokes one of the user's keys; `NoSuchKey` for anyone else's.
    pub async fn delete_key(&self, user_id: &str, id: &str) -> Result<(), AuthError> {
        let deleted = self
            .store
            .send(DeleteApiKey {
                user_id: user_id.to_string(),
                id: id.to_string(),
            })
            .await??;
        if deleted {
            Ok(())
        } else {
            Err(AuthError::NoSuchKey)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names with markup, quotes, spaces, paths or SQL are refused, as are
    /// too short and too long ones; ordinary names pass.
    #[test]
    fn usernames_are_restricted() {
        for good in ["alice", "Bob_99", "a.b-c", "x1y"] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "",
            "a b",
            "<script>",
            "' OR 1=1 --",
            "../etc",
            "-lead",
            "é".repeat(5).as_str(),
            &"a".repeat(33),
        ] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password(&"p".repeat(129)).is_err());
        assert!(check_password("long enough").is_ok());
    }
}
