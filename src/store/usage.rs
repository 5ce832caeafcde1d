//! The per-user stored-bytes quota: before a new job is stored, the bytes
//! the user's stored jobs already take (requests and results, summed by the
//! store) must be under `store.max_user_stored_bytes`. The retention purge
//! (and nothing else: results are never dropped to make room) lowers a
//! user's total, so a refusal says to retry after the next purge.

use crate::actors::store::{StoreActor, StoredBytes, PURGE_INTERVAL};
use crate::quota::QuotaError;
use actix::Addr;

/// Refuses a new job for `user_id` when their stored jobs already take
/// `max` bytes or more (`max` 0 = unlimited).
pub async fn check_stored_bytes(
    store: &Addr<StoreActor>,
    user_id: &str,
    max: u64,
) -> Result<(), QuotaError> {
    if max == 0 {
        return Ok(());
    }
    let used = store
        .send(StoredBytes {
            user_id: user_id.to_string(),
        })
        .await
        .map_err(|e| QuotaError::Unavailable(e.to_string()))?
        .map_err(|e| QuotaError::Unavailable(e.to_string()))?;
    if used >= max {
        crate::metrics::quota_refused("quota.stored_bytes");
        return Err(QuotaError::StoredBytes {
            used,
            max,
            retry_after_secs: PURGE_INTERVAL.as_secs(),
        });
    }
    Ok(())
}
