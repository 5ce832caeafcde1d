//! Login tokens: HS256 JWTs with `sub` (user id), `name`, `ver` (the user's
//! token version when it was issued), `iss`, `iat` and `exp`. Verification
//! pins the algorithm to HS256 (so `alg: none` and algorithm-confusion tokens
//! fail), requires `exp`, `iss` and `sub`, checks the issuer, and allows a few
//! seconds of clock skew between API processes. Whether `ver` is still the
//! user's version is [`super::Accounts`]' business: this module only signs
//! and checks signatures.

use super::{AuthError, AuthSettings};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// Clock skew tolerated between the process that issued a token and the one
/// checking it.
const LEEWAY_SECS: u64 = 5;

/// What a login token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The username at login time (informational).
    pub name: String,
    /// The user's token version at login; a logout-all raises the stored
    /// version, which refuses every token carrying an older one. Tokens
    /// issued before the claim existed read as 0, the version every user
    /// starts with, so they stay valid until their user's first logout-all.
    #[serde(default)]
    pub ver: u64,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and verifies login tokens with the configured secret.
#[derive(Clone)]
pub struct TokenIssuer {
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    validation: Arc<Validation>,
    issuer: String,
    ttl_secs: u64,
}

impl TokenIssuer {
    pub fn new(settings: &AuthSettings) -> TokenIssuer {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS;
        TokenIssuer {
            encoding: Arc::new(EncodingKey::from_secret(settings.jwt_secret.as_bytes())),
            decoding: Arc::new(DecodingKey::from_secret(settings.jwt_secret.as_bytes())),
            validation: Arc::new(validation),
            issuer: settings.jwt_issuer.clone(),
            ttl_secs: settings.token_ttl_secs,
        }
    }

    /// Seconds a new token stays valid.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A token for the user at token version `version`, valid for the
    /// configured lifetime.
    pub fn issue(&self, user_id: &str, username: &str, version: u64) -> Result<String, AuthError> {
        let now = OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
        let claims = Claims {
            sub: user_id.to_string(),
            name: username.to_string(),
            ver: version,
            iss: self.issuer.clone(),
            iat: now,
            exp: now + self.ttl_secs,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                _ => AuthError::InvalidToken(error.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(secret: &str) -> TokenIssuer {
        TokenIssuer::new(&AuthSettings {
            jwt_secret: secret.into(),
            ..AuthSettings::default()
        })
    }

    fn b64(text: &str) -> String {
        // Base64url without padding, enough for the forged tokens below.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    /// A token verifies with its own secret and yields its claims.
    #[test]
    fn round_trip() {
        let tokens = issuer("s1");
        let claims = tokens
            .verify(&tokens.issue("u1", "alice", 7).unwrap())
            .unwrap();
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.name.as_str(),
                claims.iss.as_str()
            ),
            ("u1", "alice", "rce")
        );
        assert_eq!(claims.ver, 7);
        assert_eq!(
            claims.exp - claims.iat,
            AuthSettings::default().token_ttl_secs
        );
    }

    /// Another secret, a tampered payload, `alg: none`, a wrong issuer and an
    /// expired token are all refused; expiry is told apart.
    #[test]
    fn forged_tampered_and_expired_tokens_fail() {
        let tokens = issuer("s1");
        let good = tokens.issue("u1", "alice", 0).unwrap();
        assert!(matches!(
            issuer("s2").verify(&good),
            Err(AuthError::InvalidToken(_))
        ));
        let parts: Vec<&str> = good.split('.').collect();
        let forged_payload =
            b64(r#"{"sub":"u2","name":"bob","iss":"rce","iat":1,"exp":99999999999}"#);
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(matches!(
            tokens.verify(&tampered),
            Err(AuthError::InvalidToken(_))
        ));
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            forged_payload
        );
        assert!(matches!(
            tokens.verify(&none),
            Err(AuthError::InvalidToken(_))
        ));
        let other_issuer = TokenIssuer::new(&AuthSettings {
            jwt_secret: "s1".into(),
            jwt_issuer: "evil".into(),
            ..AuthSettings::default()
        });
        assert!(matches!(
            tokens.verify(&other_issuer.issue("u1", "a", 0).unwrap()),
            Err(AuthError::InvalidToken(_))
        ));
        let expired = Claims {
            sub: "u1".into(),
            name: "a".into(),
            ver: 0,
            iss: "rce".into(),
            iat: 1,
            exp: 2,
        };
        let expired = encode(
            &Header::new(Algorithm::HS256),
            &expired,
            &EncodingKey::from_secret(b"s1"),
        )
        .unwrap();
        assert!(matches!(
            tokens.verify(&expired),
            Err(AuthError::ExpiredToken)
        ));
        assert!(matches!(
            tokens.verify("garbage"),
            Err(AuthError::InvalidToken(_))
        ));
    }

    /// A token signed before the `ver` claim existed verifies as version 0.
    #[test]
    fn a_token_without_ver_is_version_0() {
        let tokens = issuer("s1");
        let legacy = serde_json::json!({"sub": "u1", "name": "a", "iss": "rce", "iat": 1, "exp": 99_999_999_999u64});
        let legacy = encode(
            &Header::new(Algorithm::HS256),
            &legacy,
            &EncodingKey::from_secret(b"s1"),
        )
        .unwrap();
        assert_eq!(tokens.verify(&legacy).unwrap().ver, 0);
    }
}
