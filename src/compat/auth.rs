//! Who a compatibility request acts for. Judge0 clients send the credential
//! as `X-Auth-Token` (Judge0's own header, or a query parameter of that
//! name, as Judge0 also reads it), or as `X-Auth-User` (Judge0's
//! authorization token; rce has one kind of credential). Piston clients have
//! no header option at all, so Piston also takes HTTP Basic auth, whose
//! password (or user name, when the password is empty) is the credential and
//! which such clients send from the base URL (`http://any:<key>@host`), and a
//! bare `Authorization: <key>` with no scheme. Either way the credential is
//! an rce API key or login token, checked by [`Accounts::authenticate`]
//! exactly as for API v1.

use crate::auth::{Accounts, AuthError};
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::HttpRequest;
use base64::Engine;

/// Judge0's authentication header.
pub const JUDGE0_HEADER: &str = "X-Auth-Token";
/// Judge0's authorization header.
pub const JUDGE0_USER_HEADER: &str = "X-Auth-User";

/// The credential of a Judge0 request: `X-Auth-Token`, else `X-Auth-User`
/// (each from the header, else the query parameter of the same name), else
/// `Authorization`.
pub fn judge0_credential(request: &HttpRequest) -> Option<String> {
    judge0_value(request, JUDGE0_HEADER)
        .or_else(|| judge0_value(request, JUDGE0_USER_HEADER))
        .or_else(|| authorization(request.headers()))
}

/// The non-empty value of header `name`, else of the query parameter `name`.
pub fn judge0_value(request: &HttpRequest, name: &str) -> Option<String> {
    header_value(request.headers(), name).or_else(|| query_value(request.query_string(), name))
}

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_string)
}

fn query_value(query: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// The credential of `Authorization: Bearer <credential>`, `Authorization:
/// Basic base64(user:password)` or a bare `Authorization: <credential>`.
pub fn authorization(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let Some((scheme, rest)) = value.split_once(' ') else {
        // No scheme: the whole value is the key (Piston clients that take an
        // "api key" send it like this).
        return Some(value.to_string()).filter(|c| !c.is_empty());
    };
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

    fn request(uri: &str, pairs: &[(&str, &str)]) -> HttpRequest {
        let mut request = actix_web::test::TestRequest::default().uri(uri);
        for (name, value) in pairs {
            request = request.insert_header((*name, *value));
        }
        request.to_http_request()
    }

    /// X-Auth-Token wins, from the header, else the query; then X-Auth-User;
    /// Bearer is the fallback; nothing is no credential.
    #[test]
    fn judge0_takes_its_headers_or_query_then_bearer() {
        let both = request(
            "/",
            &[("x-auth-token", "rce_a"), ("authorization", "Bearer rce_b")],
        );
        assert_eq!(judge0_credential(&both).as_deref(), Some("rce_a"));
        let query = request(
            "/?X-Auth-Token=rce_q&x=1",
            &[("authorization", "Bearer rce_b")],
        );
        assert_eq!(judge0_credential(&query).as_deref(), Some("rce_q"));
        let header_first = request("/?X-Auth-Token=rce_q", &[("x-auth-token", "rce_h")]);
        assert_eq!(judge0_credential(&header_first).as_deref(), Some("rce_h"));
        let user = request("/?X-Auth-User=rce_u", &[]);
        assert_eq!(judge0_credential(&user).as_deref(), Some("rce_u"));
        assert_eq!(judge0_value(&user, JUDGE0_HEADER), None);
        let bearer = request("/", &[("authorization", "Bearer rce_b")]);
        assert_eq!(judge0_credential(&bearer).as_deref(), Some("rce_b"));
        assert_eq!(judge0_credential(&request("/?X-Auth-Token=", &[])), None);
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
        let bare = headers(&[("authorization", "rce_bare")]);
        assert_eq!(authorization(&bare).as_deref(), Some("rce_bare"));
    }
}
