//! Password hashing with Argon2id (PHC strings, so the cost parameters travel
//! with each hash and can be raised later without breaking old accounts).
//! Hashing is deliberately slow and memory-hungry, so it runs on tokio's
//! blocking pool, never on an actix arbiter, and at most one hash per CPU
//! runs at once: a burst of logins queues instead of exhausting memory.

use super::{AuthError, AuthSettings};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// One permit per CPU: bounds the memory (m KiB per hash) and CPU that
    /// concurrent logins can take.
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when a login names
    /// an unknown user, so the answer takes as long as for a known one (no
    /// username probing by timing).
    decoy: Arc<tokio::sync::OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(settings: &AuthSettings) -> Result<PasswordHasher, AuthError> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            None,
        )
        .map_err(|e| AuthError::Hash(format!("argon2 parameters: {e}")))?;
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(cpus)),
            decoy: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes `password` with a fresh random salt; returns the PHC string.
    pub async fn hash(&self, password: String) -> Result<String, AuthError> {
        let params = self.params.clone();
        self.on_blocking_pool(move || {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| AuthError::Hash(format!("random salt: {e}")))?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
            Self::argon2(params)
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| AuthError::Hash(e.to_string()))
        })
        .await
    }

    /// Whether `password` matches the PHC string `hash` (with the cost
    /// parameters recorded in it).
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, AuthError> {
        self.on_blocking_pool(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| AuthError::Hash(format!("stored hash: {e}")))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }

    /// Runs `work` (a hash or a verification: slow and memory-hungry by
    /// design) on the blocking pool, no more of them at once than the
    /// permits allow.
    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AuthError::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AuthError::Hash(e.to_string()))?
    }

    /// Spends the time of one verification without a user (see `decoy`).
    pub async fn verify_decoy(&self, password: String) -> Result<(), AuthError> {
        let decoy = self
            .decoy
            .get_or_try_init(|| async {
                let mut random = [0u8; 24];
                getrandom::fill(&mut random).map_err(|e| AuthError::Hash(e.to_string()))?;
                self.hash(format!("{random:?}")).await
            })
            .await?
            .clone();
        self.verify(password, decoy).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash is Argon2id, salted (two hashes of one password differ) and
    /// verifies only the right password.
    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let settings = AuthSettings {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..AuthSettings::default()
        };
        let hasher = PasswordHasher::new(&settings).unwrap();
        let first = hasher.hash("correct horse".into()).await.unwrap();
        let second = hasher.hash("correct horse".into()).await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{first}"
        );
        assert_ne!(first, second);
        assert!(hasher
            .verify("correct horse".into(), first.clone())
            .await
            .unwrap());
        assert!(!hasher.verify("wrong horse".into(), first).await.unwrap());
        hasher.verify_decoy("anything".into()).await.unwrap();
    }
}
