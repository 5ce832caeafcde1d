//! Who a compatibility request acts for. Judge0 clients send the credential
//! as `X-Auth-Token` (Judge0's own header); Piston clients have no header
//! option at all, so Piston also takes HTTP Basic auth, whose password (or
//! user name, when the password is empty) is the credential and which such
//! clients send from the base URL (`http://any:<key>@host`). Either way the
//! credential is an rce API key or login token, checked by
//! [`Accounts::authenticate`] exactly as for API v1.

use crate::auth::{Accounts, AuthError};
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use base64::Engine;

/// Judge0's authentication header.
pub const JUDGE0_HEADER: &str = "X-Auth-Token";

/// The credential of a Judge0 request: `X-Auth-Token`, else
/// `Authorization: Bearer`.
pub fn judge0_credential(headers: &HeaderMap) -> Option<String> {
    headers
        .get(JUDGE0_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_string)
        .or_else(|| authorization(headers))
}

/// The credential of `Authorization: Bearer <credential>` or `Authorization:
/// Basic base64(user:password)`.
pub fn authorization(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string()).filter(|c| !c.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':').unwrap_or((&text, ""));
        let credential = if password.is_empty() { user } else { password };
        return Some(credential.to_string()).filter(|c| !c.is_empty());
    }
    None
}

/// The user behind `credential`.
pub async fn user_of(accounts: &Accounts, credential: Option<String>) -> Result<String, AuthError> {
    let credential = credential.ok_or(AuthError::MissingCredentials)?;
    Ok(accounts.authenticate(&credential).await?.user_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// X-Auth-Token wins; Bearer is the fallback; nothing is no credential.
    #[test]
    fn judge0_takes_its_header_then_bearer() {
        let both = headers(&[("x-auth-token", "rce_a"), ("authorization", "Bearer rce_b")]);
        assert_eq!(judge0_credential(&both).as_deref(), Some("rce_a"));
        let bearer = headers(&[("authorization", "Bearer rce_b")]);
        assert_eq!(judge0_credential(&bearer).as_deref(), Some("rce_b"));
        assert_eq!(judge0_credential(&headers(&[])), None);
    }

    /// Basic auth carries the key as the password, or as the user name when
    /// the password is empty; other schemes are no credential.
    #[test]
    fn basic_auth_carries_the_key() {
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let password = headers(&[("authorization", &format!("Basic {}", encode("x:rce_k")))]);
        assert_eq!(authorization(&password).as_deref(), Some("rce_k"));
        let user = headers(&[("authorization", &format!("Basic {}", encode("rce_u:")))]);
        assert_eq!(authorization(&user).as_deref(), Some("rce_u"));
        let digest = headers(&[("authorization", "Digest abc")]);
        assert_eq!(authorization(&digest), None);
    }
}
