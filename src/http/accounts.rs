//! `/api/v1/auth/*` and `/api/v1/keys`: register, log in, who am I, log
//! out everywhere (every login token issued so far stops working), and the
//! caller's long-lived API keys (create: the secret is in that answer only;
//! list: never the secrets; delete). Login and register are throttled per
//! client address (behind `http.trusted_proxies`, the forwarded client),
//! since each costs an Argon2 hash, and failed logins per username
//! ([`crate::auth::Throttle`]).

use super::caller::Caller;
use super::errors::{ApiError, ErrorBody};
use crate::api_state::ApiState;
use crate::store::ApiKey;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A username and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit;
    /// unique regardless of case.
    #[schema(
        example = "alice",
        min_length = 3,
        max_length = 32,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub username: String,
    /// 8 to 128 characters.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
}

/// A login token for `Authorization: Bearer`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// HS256 JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Options of a new API key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A label to recognise the key by (at most 64 characters).
    #[serde(default)]
    pub name: Option<String>,
}

/// An API key as listed (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&ApiKey> for KeyInfo {
    fn from(key: &ApiKey) -> KeyInfo {
        KeyInfo {
            id: key.id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            created_at: key.created_at,
        }
    }
}

/// A new API key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyResponse {
    pub id: String,
    pub name: String,
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The secret (`rce_…`); send it as `Authorization: Bearer`. It is
    /// stored only hashed and cannot be shown again.
    pub key: String,
}

/// The caller's API keys, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
}

/// The client's address for the attempt throttle: the TCP peer, or behind
/// a trusted proxy the client it forwarded for.
fn client_address(state: &ApiState, request: &HttpRequest) -> Option<std::net::IpAddr> {
    let forwarded_for: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .collect();
    state.throttle.client(
        request.peer_addr().map(|address| address.ip()),
        &forwarded_for,
    )
}

/// Create an account.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Account created", body = UserInfo),
        (status = 400, description = "Invalid username, password or body", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn register(
    request: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    state
        .throttle
        .check_address(client_address(&state, &request))
        .await?;
    let Credentials { username, password } = body.into_inner();
    let user = state.accounts.register(username, password).await?;
    tracing::info!(user_id = %user.id, username = %user.username, "user registered");
    Ok(HttpResponse::Created().json(UserInfo {
        id: user.id,
        username: user.username,
    }))
}

/// Log in: exchange a username and password for a token.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address, or too many failed logins for this username", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn login(
    request: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<Credentials>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    state
        .throttle
        .check_address(client_address(&state, &request))
        .await?;
    let Credentials { username, password } = body.into_inner();
    state.throttle.check_username(&username).await?;
    let (user, token) = match state.accounts.login(username.clone(), password).await {
        Ok(logged_in) => logged_in,
        Err(error) => {
            if matches!(error, crate::auth::AuthError::BadCredentials) {
                state.throttle.login_failed(&username).await?;
            }
            return Err(error.into());
        }
    };
    state.throttle.login_succeeded(&username).await?;
    tracing::info!(user_id = %user.id, "user logged in");
    Ok(web::Json(TokenResponse {
        token,
        expires_in: state.accounts.token_ttl_secs(),
    }))
}

/// The account the credential belongs to.
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserInfo),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn me(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<web::Json<UserInfo>, ApiError> {
    // A valid credential for an account that no longer exists is as good
    // as none.
    let user = state
        .accounts
        .user(&caller.user_id)
        .await?
        .ok_or(crate::auth::AuthError::UnknownUser)?;
    Ok(web::Json(UserInfo {
        id: user.id,
        username: user.username,
    }))
}

/// Log out everywhere: every login token of the caller issued so far is
/// refused from now on (401 `auth.revoked_token`; on other API processes
/// within `auth.user_cache_ttl_ms`). API keys keep working: revoke those one
/// by one with `DELETE /api/v1/keys/{id}`.
#[utoipa::path(
    post, path = "/api/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every earlier login token is revoked"),
        (status = 401, description = "Missing, invalid or already revoked credentials", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn logout_all(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let version = state.accounts.logout_all(&caller.user_id).await?;
    tracing::info!(
        user_id = %caller.user_id,
        token_version = version,
        "every login token of the user revoked"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Create an API key; its secret is in this answer only.
#[utoipa::path(
    post, path = "/api/v1/keys", tag = "keys", request_body = NewKey, security(("bearer" = [])),
    responses(
        (status = 201, description = "Key created", body = CreatedKeyResponse),
        (status = 400, description = "Invalid name or body", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 409, description = "Too many keys", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn create_key(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .accounts
        .create_key(&caller.user_id, body.into_inner().name)
        .await?;
    tracing::info!(user_id = %caller.user_id, key_id = %created.key.id, "API key created");
    let key = created.key;
    Ok(HttpResponse::Created().json(CreatedKeyResponse {
        id: key.id,
        name: key.name,
        prefix: key.prefix,
        created_at: key.created_at,
        key: created.secret,
    }))
}

/// The caller's API keys, without secrets.
#[utoipa::path(
    get, path = "/api/v1/keys", tag = "keys", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's keys", body = KeyList),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn list_keys(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<web::Json<KeyList>, ApiError> {
    let keys = state.accounts.list_keys(&caller.user_id).await?;
    Ok(web::Json(KeyList {
        keys: keys.iter().map(KeyInfo::from).collect(),
    }))
}

/// Revoke one of the caller's API keys (anyone else's is 404).
#[utoipa::path(
    delete, path = "/api/v1/keys/{id}", tag = "keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Key revoked"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 404, description = "No such key of yours", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn delete_key(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.accounts.delete_key(&caller.user_id, &id).await?;
    tracing::info!(user_id = %caller.user_id, key_id = %id, "API key revoked");
    Ok(HttpResponse::NoContent().finish())
}
