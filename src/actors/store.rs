//! StoreActor: owns the persistence backend (an `Arc<dyn Store>`, SQLite by
//! default, MongoDB by configuration). Handles InsertJob, MarkRunning,
//! CompleteJob, GetJob, ListJobs, PingStore and the account
//! messages InsertUser, FindUserByName, GetUser, BumpTokenVersion, InsertApiKey, ListApiKeys,
//! DeleteApiKey, FindApiKey, StoredBytes, PurgeFinished. Started by `app` and run under
//! [`super::supervisor`] (a panic in a handler restarts it on the same mailbox); it
//! holds no state besides the backend handle and the retention period, so a restart
//! loses nothing. With a retention period it purges completed jobs older than that
//! every [`PURGE_INTERVAL`] (and once at start); a failed purge is logged and tried
//! again next time. Backend
//! calls never block its arbiter (SQLite runs on the blocking pool), so
//! requests are served concurrently; each reply is the backend's `Result`.

use crate::job::{Job, JobId, JobResult};
use crate::store::{ApiKey, Store, StoreError, StoredJob, User};
use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How often completed jobs past the retention period are purged.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

pub struct StoreActor {
    store: Arc<dyn Store>,
    /// Completed jobs older than this are purged; `None` keeps them.
    retention: Option<Duration>,
}

impl StoreActor {
    pub fn new(store: Arc<dyn Store>) -> StoreActor {
        StoreActor {
            store,
            retention: None,
        }
    }

    /// Purges completed jobs older than `retention` periodically.
    pub fn with_retention(mut self, retention: Option<Duration>) -> StoreActor {
        self.retention = retention;
        self
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Every API request and job transition passes through here.
        ctx.set_mailbox_capacity(4096);
        if let Some(retention) = self.retention {
            let purge = move |_: &mut StoreActor, ctx: &mut Context<StoreActor>| {
                let before = OffsetDateTime::now_utc() - retention;
                ctx.notify(PurgeFinished { before });
            };
            ctx.run_later(Duration::ZERO, purge);
            ctx.run_interval(PURGE_INTERVAL, purge);
        }
    }
}

/// Delete completed jobs that finished before `before`; replies how many.
#[derive(Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct PurgeFinished {
    pub before: OffsetDateTime,
}

impl Handler<PurgeFinished> for StoreActor {
    type Result = ResponseFuture<Result<u64, StoreError>>;

    fn handle(&mut self, msg: PurgeFinished, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move {
            let purged = store.purge_finished_before(msg.before).await;
            match &purged {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "purged completed jobs past retention"),
                Err(error) => tracing::warn!(%error, "purging old jobs failed; retrying later"),
            }
            purged
        })
    }
}

/// Bytes a user's stored jobs take (the stored-bytes quota).
#[derive(Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct StoredBytes {
    pub user_id: String,
}

impl actix::Supervised for StoreActor {}

/// Store a new job as queued.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct InsertJob {
    pub job: Job,
}

/// Mark a job running; false if it is already completed.
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct MarkRunning {
    pub id: JobId,
}

/// Store a job's result; false if it was already completed.
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct CompleteJob {
    pub id: JobId,
    pub result: JobResult,
}

/// Fetch one job.
#[derive(Message)]
#[rtype(result = "Result<Option<StoredJob>, StoreError>")]
pub struct GetJob {
    pub id: JobId,
}

/// A user's jobs, newest first, older than `before`.
#[derive(Message)]
#[rtype(result = "Result<Vec<StoredJob>, StoreError>")]
pub struct ListJobs {
    pub user_id: String,
    pub before: Option<JobId>,
    pub limit: usize,
}

/// Check that the backend answers.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct PingStore;

impl Handler<InsertJob> for StoreActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, msg: InsertJob, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.insert_job(&msg.job).await })
    }
}

impl Handler<MarkRunning> for StoreActor {
    type Result = ResponseFuture<Result<bool, StoreError>>;

    fn handle(&mut self, msg: MarkRunning, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.mark_running(msg.id).await })
    }
}

impl Handler<CompleteJob> for StoreActor {
    type Result = ResponseFuture<Result<bool, StoreError>>;

    fn handle(&mut self, msg: CompleteJob, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.complete_job(msg.id, &msg.result).await })
    }
}

impl Handler<GetJob> for StoreActor {
    type Result = ResponseFuture<Result<Option<StoredJob>, StoreError>>;

    fn handle(&mut self, msg: GetJob, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.get_job(msg.id).await })
    }
}

impl Handler<ListJobs> for StoreActor {
    type Result = ResponseFuture<Result<Vec<StoredJob>, StoreError>>;

    fn handle(&mut self, msg: ListJobs, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.list_jobs(&msg.user_id, msg.before, msg.limit).await })
    }
}

impl Handler<PingStore> for StoreActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, _: PingStore, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.ping().await })
    }
}

/// Store a new user; `Conflict` when the name is taken.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct InsertUser {
    pub user: User,
}

/// Look a user up by name (case-insensitive).
#[derive(Message)]
#[rtype(result = "Result<Option<User>, StoreError>")]
pub struct FindUserByName {
    pub username: String,
}

/// Fetch a user by id.
#[derive(Message)]
#[rtype(result = "Result<Option<User>, StoreError>")]
pub struct GetUser {
    pub id: String,
}

/// Raise a user's token version (logout-all); the new version, `None`
/// when there is no such user.
#[derive(Message)]
#[rtype(result = "Result<Option<u64>, StoreError>")]
pub struct BumpTokenVersion {
    pub user_id: String,
}

/// Store a new API key.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct InsertApiKey {
    pub key: ApiKey,
}

/// A user's API keys, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<ApiKey>, StoreError>")]
pub struct ListApiKeys {
    pub user_id: String,
}

/// Delete one of a user's API keys; false when the user has no such key.
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct DeleteApiKey {
    pub user_id: String,
    pub id: String,
}

/// The API key whose secret hashes to `hash`.
#[derive(Message)]
#[rtype(result = "Result<Option<ApiKey>, StoreError>")]
pub struct FindApiKey {
    pub hash: String,
}

/// Implements a handler that forwards one message to the backend, off the
/// arbiter (the same shape as the job handlers above).
macro_rules! forward {
    ($message:ty => $reply:ty, |$store:ident, $msg:ident| $call:expr) => {
        impl Handler<$message> for StoreActor {
            type Result = ResponseFuture<$reply>;

            fn handle(&mut self, $msg: $message, _: &mut Context<Self>) -> Self::Result {
                let $store = self.store.clone();
                Box::pin(async move { $call.await })
            }
        }
    };
}

forward!(StoredBytes => Result<u64, StoreError>, |store, msg| store.stored_bytes(&msg.user_id));
forward!(InsertUser => Result<(), StoreError>, |store, msg| store.insert_user(&msg.user));
forward!(FindUserByName => Result<Option<User>, StoreError>, |store, msg| store.find_user_by_name(&msg.username));
forward!(GetUser => Result<Option<User>, StoreError>, |store, msg| store.get_user(&msg.id));
forward!(BumpTokenVersion => Result<Option<u64>, StoreError>, |store, msg| store.bump_token_version(&msg.user_id));
forward!(InsertApiKey => Result<(), StoreError>, |store, msg| store.insert_api_key(&msg.key));
forward!(ListApiKeys => Result<Vec<ApiKey>, StoreError>, |store, msg| store.list_api_keys(&msg.user_id));
forward!(DeleteApiKey => Result<bool, StoreError>, |store, msg| store.delete_api_key(&msg.user_id, &msg.id));
forward!(FindApiKey => Result<Option<ApiKey>, StoreError>, |store, msg| store.find_api_key(&msg.hash));
