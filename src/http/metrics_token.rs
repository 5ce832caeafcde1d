//! The optional bearer token of `/metrics` (`http.metrics_token`). Unset, the
//! metrics stay public as before; set, a scrape must send `Authorization:
//! Bearer <token>` or gets a 401 JSON error (`auth.required` without the
//! header, `auth.invalid_token` with another credential), the same shape as
//! every other 401. The token is compared in constant time: both sides are
//! hashed with SHA-256 and the digests compared with `subtle`, so neither
//! the bytes that matched nor the token's length show in the response time.
//! Used by the API's `/metrics` and by a worker-only process's probe server.

use super::caller::bearer;
use super::errors::ApiError;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a scrape must present; `None` when `/metrics` is public.
#[derive(Clone)]
pub struct MetricsToken {
    /// SHA-256 of the configured token (the token itself is not kept, so a
    /// `Debug` print or a heap dump of the state does not show it).
    expected: Option<[u8; 32]>,
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsToken")
            .field("required", &self.expected.is_some())
            .finish()
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl MetricsToken {
    /// From `http.metrics_token`; unset or empty leaves `/metrics` public.
    pub fn new(token: Option<&str>) -> MetricsToken {
        MetricsToken {
            expected: token.filter(|t| !t.is_empty()).map(digest),
        }
    }

    /// Lets the scrape through, or the 401 to answer it with.
    pub fn check(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let Some(expected) = &self.expected else {
            return Ok(());
        };
        let presented = bearer(request).map_err(|_| invalid())?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "auth.required",
                "GET /metrics needs Authorization: Bearer <http.metrics_token>",
            )
        })?;
        if bool::from(digest(&presented).ct_eq(expected)) {
            Ok(())
        } else {
            Err(invalid())
        }
    }
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "auth.invalid_token",
        "invalid token: not the metrics token",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn scrape(authorization: Option<&str>) -> HttpRequest {
        let mut request = TestRequest::get().uri("/metrics");
        if let Some(value) = authorization {
            request = request.insert_header(("Authorization", value));
        }
        request.to_http_request()
    }

    /// Unset or empty: every scrape passes. Set: only the exact token as a
    /// bearer credential passes; none, another token, a prefix of it, or
    /// another scheme is a 401 with a stable code.
    #[test]
    fn only_the_configured_token_passes() {
        for open in [MetricsToken::new(None), MetricsToken::new(Some(""))] {
            assert!(open.check(&scrape(None)).is_ok());
        }
        let token = MetricsToken::new(Some("s3cret-scrape"));
        assert!(token.check(&scrape(Some("Bearer s3cret-scrape"))).is_ok());
        assert!(token.check(&scrape(Some("bearer s3cret-scrape"))).is_ok());
        let missing = token.check(&scrape(None)).unwrap_err();
        assert_eq!(
            (missing.status, missing.code.as_str()),
            (StatusCode::UNAUTHORIZED, "auth.required")
        );
        for wrong in [
            "Bearer s3cret",
            "Bearer s3cret-scrape-",
            "Bearer other",
            "Basic czNjcmV0LXNjcmFwZQ==",
        ] {
            let refused = token.check(&scrape(Some(wrong))).unwrap_err();
            assert_eq!(
                (refused.status, refused.code.as_str()),
                (StatusCode::UNAUTHORIZED, "auth.invalid_token"),
                "{wrong}"
            );
        }
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
