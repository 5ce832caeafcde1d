//! API key secrets: `rce_` followed by 64 hex digits (32 random bytes). Only
//! the SHA-256 of a secret is stored, so a leaked database cannot be used to
//! call the API; a key is looked up by that hash. The `rce_` prefix tells a
//! key from a JWT in the same `Authorization: Bearer` header.

use super::AuthError;
use sha2::{Digest, Sha256};

/// What every API key secret starts with.
pub const KEY_PREFIX: &str = "rce_";
/// Characters of the secret kept in the clear (`rce_` + 8 hex digits), so a
/// user can tell their keys apart in a list.
const SHOWN_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A fresh secret and its displayable prefix.
pub(super) fn generate() -> Result<(String, String), AuthError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| AuthError::Hash(format!("random key: {e}")))?;
    let secret = format!("{KEY_PREFIX}{}", hex(&random));
    let prefix = secret[..SHOWN_PREFIX_CHARS].to_string();
    Ok((secret, prefix))
}

/// The hex SHA-256 under which a secret is stored.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets carry the prefix and 256 random bits, differ each time, and
    /// their stored hash is a 64-digit hex string that is not the secret.
    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let (first, prefix) = generate().unwrap();
        let (second, _) = generate().unwrap();
        assert!(
            first.starts_with(KEY_PREFIX) && first.len() == KEY_PREFIX.len() + 64,
            "{first}"
        );
        assert!(first.starts_with(&prefix));
        assert_ne!(first, second);
        let hash = hash_secret(&first);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, first);
        assert_eq!(hash, hash_secret(&first));
    }
}
