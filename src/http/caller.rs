//! Who is calling: the `Caller` extractor authenticates every request that
//! acts for a user, from `Authorization: Bearer <credential>`, where the
//! credential is a login JWT or an `rce_…` API key ([`Accounts::authenticate`]
//! decides). Missing or bad credentials are a 401 JSON error before the
//! handler runs. Handlers scope everything by `Caller`, so a user only ever
//! reaches their own submissions and keys. The WebSocket upgrade also takes
//! `?token=` (browsers cannot set headers on a WebSocket), through
//! [`Caller::from_header_or_query`].

use super::errors::ApiError;
use crate::api_state::ApiState;
use crate::auth::AuthError;
use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// The API key used, when the credential was one.
    pub key_id: Option<String>,
}

/// `?token=` of the WebSocket upgrade.
#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The credential in `Authorization: Bearer …`, if the header is there.
pub(super) fn bearer(request: &HttpRequest) -> Result<Option<String>, AuthError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidToken("the Authorization header is not text".into()))?;
    match value.split_once(' ') {
        Some((scheme, credential))
            if scheme.eq_ignore_ascii_case("bearer") && !credential.trim().is_empty() =>
        {
            Ok(Some(credential.trim().to_string()))
        }
        _ => Err(AuthError::InvalidToken(
            "expected Authorization: Bearer <token or API key>".into(),
        )),
    }
}

impl Caller {
    /// Authenticates `credential` (a JWT or an API key).
    async fn authenticate(
        request: &HttpRequest,
        credential: Option<String>,
    ) -> Result<Caller, ApiError> {
        let state = request
            .app_data::<web::Data<ApiState>>()
            .ok_or_else(|| ApiError::unavailable("the API state is not configured"))?;
        let credential = credential.ok_or(AuthError::MissingCredentials)?;
        let identity = state.accounts.authenticate(&credential).await?;
        Ok(Caller {
            user_id: identity.user_id,
            key_id: identity.key_id,
        })
    }

    /// For the WebSocket upgrade: the header if present, else `?token=`.
    pub async fn from_header_or_query(request: &HttpRequest) -> Result<Caller, ApiError> {
        let credential = match bearer(request)? {
            Some(credential) => Some(credential),
            None => web::Query::<TokenQuery>::from_query(request.query_string())
                .ok()
                .and_then(|query| query.into_inner().token)
                .filter(|token| !token.is_empty()),
        };
        Caller::authenticate(request, credential).await
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let credential = bearer(&request)?;
            Caller::authenticate(&request, credential).await
        })
    }
}
