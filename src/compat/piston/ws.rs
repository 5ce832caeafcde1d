//! Piston's `/api/v2/connect` WebSocket (not yet implemented: answers 501).

use actix_web::HttpResponse;

/// The WebSocket upgrade.
pub async fn connect() -> HttpResponse {
    HttpResponse::NotImplemented()
        .json(serde_json::json!({"message": "the Piston WebSocket is not available yet"}))
}
