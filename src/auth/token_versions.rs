//! TokenVersionCache: what this API process last read of each user's token
//! version, trusted for `auth.user_cache_ttl_ms`, so that checking a login
//! token does not read the store on every request. A logout-all handled by
//! this process records the new version at once; other API processes keep
//! their copy until it expires, so there a revoked token works for at most
//! the TTL. Versions only grow, so a read that raced a logout-all and
//! returns the older version never replaces the newer one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Users remembered at once. Past it, expired entries are dropped, and if
/// that frees nothing, all of them: the cache only saves store reads, so
/// forgetting is always safe, and the map cannot grow without bound.
const MAX_CACHED_USERS: usize = 100_000;

/// A shared, bounded map from user id to (token version, when it was read).
#[derive(Clone)]
pub struct TokenVersionCache {
    /// How long a read version is trusted; zero turns the cache off.
    ttl: Duration,
    max_users: usize,
    /// A std mutex: taken for one map operation, never across an await.
    entries: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
}

impl TokenVersionCache {
    pub fn new(ttl: Duration) -> TokenVersionCache {
        TokenVersionCache::with_limit(ttl, MAX_CACHED_USERS)
    }

    fn with_limit(ttl: Duration, max_users: usize) -> TokenVersionCache {
        TokenVersionCache {
            ttl,
            max_users,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn is_fresh(&self, read_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(read_at) < self.ttl
    }

    /// The user's version, when it was read less than the TTL ago.
    pub fn get(&self, user_id: &str) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (version, read_at) = *entries.get(user_id)?;
        self.is_fresh(read_at, Instant::now()).then_some(version)
    }

    /// Records `version` as just read (or just set by a logout-all). A
    /// fresh entry with a higher version stays: it is the newer fact.
    pub fn remember(&self, user_id: &str, version: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, read_at)) = entries.get(user_id) {
            if *known > version && self.is_fresh(*read_at, now) {
                return;
            }
        }
        if entries.len() >= self.max_users && !entries.contains_key(user_id) {
            entries.retain(|_, (_, read_at)| now.saturating_duration_since(*read_at) < self.ttl);
            if entries.len() >= self.max_users {
                entries.clear();
            }
        }
        entries.insert(user_id.to_string(), (version, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered version is served until the TTL has passed, then the
    /// store must be asked again.
    #[tokio::test(start_paused = true)]
    async fn versions_expire_after_the_ttl() {
        let cache = TokenVersionCache::new(Duration::from_millis(1000));
        assert_eq!(cache.get("u1"), None);
        cache.remember("u1", 3);
        assert_eq!(cache.get("u1"), Some(3));
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(cache.get("u1"), Some(3));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(cache.get("u1"), None);
    }

    /// A read that raced a logout-all (and saw the old version) does not
    /// undo it; once the newer entry expires, any read counts again.
    #[tokio::test(start_paused = true)]
    async fn a_stale_read_never_lowers_the_version() {
        let cache = TokenVersionCache::new(Duration::from_millis(1000));
        cache.remember("u1", 2);
        cache.remember("u1", 1);
        assert_eq!(cache.get("u1"), Some(2));
        cache.remember("u1", 5);
        assert_eq!(cache.get("u1"), Some(5));
        tokio::time::advance(Duration::from_millis(1000)).await;
        cache.remember("u1", 4);
        assert_eq!(cache.get("u1"), Some(4));
    }

    /// A TTL of zero remembers nothing: every check reads the store.
    #[tokio::test(start_paused = true)]
    async fn zero_ttl_caches_nothing() {
        let cache = TokenVersionCache::new(Duration::ZERO);
        cache.remember("u1", 1);
        assert_eq!(cache.get("u1"), None);
    }

    /// The map stays within its bound: expired entries go first, and when
    /// every entry is fresh the cache starts over rather than grow.
    #[tokio::test(start_paused = true)]
    async fn the_cache_is_bounded() {
        let cache = TokenVersionCache::with_limit(Duration::from_millis(1000), 2);
        cache.remember("old", 1);
        tokio::time::advance(Duration::from_millis(1000)).await;
        cache.remember("u1", 1);
        cache.remember("u2", 2);
        let size = || cache.entries.lock().unwrap().len();
        assert_eq!(size(), 2, "the expired entry made room");
        assert_eq!((cache.get("u1"), cache.get("u2")), (Some(1), Some(2)));
        cache.remember("u3", 3);
        assert_eq!(size(), 1);
        assert_eq!(cache.get("u3"), Some(3));
        cache.remember("u3", 4);
        assert_eq!(size(), 1, "updating a known user needs no room");
    }
}
