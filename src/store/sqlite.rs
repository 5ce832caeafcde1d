//! The embedded default backend: one SQLite file in WAL mode. Every call runs
//! on tokio's blocking pool (never on an actix arbiter) and takes the one
//! connection's mutex; SQLite serialises writers anyway, and one connection
//! keeps prepared statements cached. Schema changes are versioned migrations
//! keyed by `PRAGMA user_version`.

use super::backend::{ApiKey, Store, StoreError, StoredJob, User};
use crate::job::{Job, JobId, JobResult};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Migrations in order; entry N brings the schema to version N+1.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, newest-first listing per user.
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        language TEXT NOT NULL,
        status TEXT NOT NULL,
        job TEXT NOT NULL,
        result TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
     );
     CREATE INDEX jobs_by_user ON jobs (user_id, id DESC);",
    // 2: accounts and API keys; counting a user's unfinished jobs (the
    // per-user cap on queued + running jobs).
    "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
     );
     CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id),
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
     );
     CREATE INDEX api_keys_by_user ON api_keys (user_id, id);
     CREATE INDEX jobs_by_user_status ON jobs (user_id, status);",
    // 3: bytes each job takes (the per-user stored-bytes quota sums them),
    // and finding completed jobs by age (the retention purge).
    "ALTER TABLE jobs ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
     UPDATE jobs SET stored_bytes =
        length(CAST(job AS BLOB)) + coalesce(length(CAST(result AS BLOB)), 0);
     CREATE INDEX jobs_by_finished_at ON jobs (finished_at) WHERE status = 'completed';
     CREATE INDEX jobs_stored_bytes ON jobs (user_id, stored_bytes);",
    // 4: each user's token version (a logout-all raises it); existing
    // accounts start at 0, the version their tokens verify as.
    "ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;",
    // 5: each user's stored bytes kept as a running total by triggers, so
    // the quota check before every submission is one lookup instead of a
    // sum over all the user's jobs (which made ingest slow down as a user's
    // history grew).
    "CREATE TABLE user_usage (
        user_id TEXT PRIMARY KEY,
        stored_bytes INTEGER NOT NULL
     ) WITHOUT ROWID;
     INSERT INTO user_usage (user_id, stored_bytes)
        SELECT user_id, SUM(stored_bytes) FROM jobs GROUP BY user_id;
     CREATE TRIGGER jobs_usage_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO user_usage (user_id, stored_bytes) VALUES (NEW.user_id, NEW.stored_bytes)
        ON CONFLICT (user_id) DO UPDATE SET stored_bytes = stored_bytes + excluded.stored_bytes;
     END;
     CREATE TRIGGER jobs_usage_update AFTER UPDATE OF stored_bytes ON jobs BEGIN
        UPDATE user_usage SET stored_bytes = stored_bytes + NEW.stored_bytes - OLD.stored_bytes
        WHERE user_id = NEW.user_id;
     END;
     CREATE TRIGGER jobs_usage_delete AFTER DELETE ON jobs BEGIN
        UPDATE user_usage SET stored_bytes = stored_bytes - OLD.stored_bytes
        WHERE user_id = OLD.user_id;
     END;
     DROP INDEX jobs_stored_bytes;",
];

/// Jobs one purge statement deletes at most; the connection is released
/// between batches so other requests are not held up by a large purge.
const PURGE_BATCH: i64 = 500;

pub struct SqliteStore {
    /// The one connection; a std mutex because it is only taken on the
    /// blocking pool, never across an await.
    connection: Arc<Mutex<Connection>>,
}

fn query_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Query(error.to_string())
}

/// A failed INSERT: a UNIQUE violation is a `Conflict`, anything else a query error.
fn insert_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(error.to_string()),
        _ => query_error(error),
    }
}

fn parse_time(text: &str, what: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

const USER_COLUMNS: &str =
    "SELECT id, username, password_hash, created_at, token_version FROM users";

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<([String; 4], i64)> {
    Ok((
        [row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?],
        row.get(4)?,
    ))
}

fn decode_user(
    ([id, username, password_hash, created_at], token_version): ([String; 4], i64),
) -> Result<User, StoreError> {
    Ok(User {
        id,
        username,
        password_hash,
        created_at: parse_time(&created_at, "users.created_at")?,
        token_version: token_version_of(token_version)?,
    })
}

/// A stored token version; SQLite integers are signed, versions are not.
fn token_version_of(stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored).map_err(|_| StoreError::Corrupt(format!("users.token_version {stored}")))
}

const KEY_COLUMNS: &str = "SELECT id, user_id, name, prefix, hash, created_at FROM api_keys";

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<[String; 6]> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ])
}

fn decode_key(
    [id, user_id, name, prefix, hash, created_at]: [String; 6],
) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id,
        user_id,
        name,
        prefix,
        hash,
        created_at: parse_time(&created_at, "api_keys.created_at")?,
    })
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
        }
        let connection = Connection::open(path)
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
            .map_err(|e| StoreError::Open(e.to_string()))?;
        migrate(&connection)?;
        Ok(SqliteStore {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let guard = connection
                .lock()
                .map_err(|_| StoreError::Query("connection mutex poisoned".into()))?;
            work(&guard)
        })
        .await
        .map_err(query_error)?
    }
}

fn migrate(connection: &Connection) -> Result<(), StoreError> {
    let version: usize = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| StoreError::Open(e.to_string()))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Open(format!(
            "the database is at schema version {version}, newer than this binary's {}",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        connection
            .execute_batch(&format!(
                "BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;",
                index + 1
            ))
            .map_err(|e| StoreError::Open(format!("migration {}: {e}", index + 1)))?;
    }
    Ok(())
}

fn timestamp(at: OffsetDateTime) -> String {
    // unwrap: RFC 3339 formatting only fails for years beyond 9999.
    at.format(&Rfc3339).expect("timestamp formats as RFC 3339")
}

fn row_to_job(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, Option<String>, Option<String>)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn decode(
    columns: (String, String, Option<String>, Option<String>),
) -> Result<StoredJob, StoreError> {
    let (job, status, result, finished_at) = columns;
    StoredJob::from_columns(&job, &status, result, finished_at)
}

const SELECT: &str = "SELECT job, status, result, finished_at FROM jobs";

#[async_trait]
impl Store for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let row = [
            user.id.clone(),
            user.username.clone(),
            User::username_key(&user.username),
            user.password_hash.clone(),
            timestamp(user.created_at),
        ];
        let token_version = i64::try_from(user.token_version).map_err(|_| {
            StoreError::Query(format!("token version {} is too large", user.token_version))
        })?;
        self.with(move |c| {
            c.prepare_cached(
                "INSERT INTO users (id, username, username_key, password_hash, created_at, token_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(query_error)?
            .execute(params![row[0], row[1], row[2], row[3], row[4], token_version])
            .map(|_| ())
            .map_err(insert_error)
        })
        .await
    }

    async fn find_user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let key = User::username_key(username);
        self.with(move |c| {
            c.prepare_cached(&format!("{USER_COLUMNS} WHERE username_key = ?1"))
                .and_then(|mut statement| statement.query_row(params![key], user_row).optional())
                .map_err(query_error)?
                .map(decode_user)
                .transpose()
        })
        .await
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let id = id.to_string();
        self.with(move |c| {
            c.prepare_cached(&format!("{USER_COLUMNS} WHERE id = ?1"))
                .and_then(|mut statement| statement.query_row(params![id], user_row).optional())
                .map_err(query_error)?
                .map(decode_user)
                .transpose()
        })
        .await
    }

    async fn bump_token_version(&self, user_id: &str) -> Result<Option<u64>, StoreError> {
        let user_id = user_id.to_string();
        self.with(move |c| {
            c.prepare_cached(
                "UPDATE users SET token_version = token_version + 1 WHERE id = ?1 RETURNING token_version",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![user_id], |row| row.get::<_, i64>(0))
                    .optional()
            })
            .map_err(query_error)?
            .map(token_version_of)
            .transpose()
        })
        .await
    }

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let row = [
            key.id.clone(),
            key.user_id.clone(),
            key.name.clone(),
            key.prefix.clone(),
            key.hash.clone(),
            timestamp(key.created_at),
        ];
        self.with(move |c| {
            c.prepare_cached(
                "INSERT INTO api_keys (id, user_id, name, prefix, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(query_error)?
            .execute(params![row[0], row[1], row[2], row[3], row[4], row[5]])
            .map(|_| ())
            .map_err(insert_error)
        })
        .await
    }

    async fn list_api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let user_id = user_id.to_string();
        self.with(move |c| {
            let mut statement = c
                .prepare_cached(&format!("{KEY_COLUMNS} WHERE user_id = ?1 ORDER BY id"))
                .map_err(query_error)?;
            let rows = statement
                .query_map(params![user_id], key_row)
                .map_err(query_error)?;
            rows.map(|row| row.map_err(query_error).and_then(decode_key))
                .collect()
        })
        .await
    }

    async fn delete_api_key(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let (user_id, id) = (user_id.to_string(), id.to_string());
        self.with(move |c| {
            c.prepare_cached("DELETE FROM api_keys WHERE id = ?1 AND user_id = ?2")
                .and_then(|mut statement| statement.execute(params![id, user_id]))
                .map(|deleted| deleted == 1)
                .map_err(query_error)
        })
        .await
    }

    async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash.to_string();
        self.with(move |c| {
            c.prepare_cached(&format!("{KEY_COLUMNS} WHERE hash = ?1"))
                .and_then(|mut statement| statement.query_row(params![hash], key_row).optional())
                .map_err(query_error)?
                .map(decode_key)
                .transpose()
        })
        .await
    }

    async fn count_active_jobs(&self, user_id: &str) -> Result<u64, StoreError> {
        let user_id = user_id.to_string();
        self.with(move |c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM jobs WHERE user_id = ?1 AND status IN ('queued', 'running')",
            )
            .and_then(|mut statement| {
                statement.query_row(params![user_id], |row| row.get::<_, i64>(0))
            })
            .map(|count| count.max(0) as u64)
            .map_err(query_error)
        })
        .await
    }

    async fn insert_job(&self, job: &Job) -> Result<(), StoreError> {
        let text = serde_json::to_string(job).map_err(query_error)?;
        let row = (
            job.id.to_string(),
            job.user_id.clone(),
            job.language.clone(),
            text.len() as i64,
            text,
            timestamp(job.created_at),
        );
        self.with(move |c| {
            c.prepare_cached(
                "INSERT INTO jobs (id, user_id, language, status, job, created_at, stored_bytes) VALUES (?1, ?2, ?3, 'queued', ?5, ?6, ?4)",
            )
            .and_then(|mut statement| statement.execute(params![row.0, row.1, row.2, row.3, row.4, row.5]))
            .map(|_| ())
            .map_err(query_error)
        })
        .await
    }

    async fn mark_running(&self, id: JobId) -> Result<bool, StoreError> {
        self.with(move |c| {
            c.prepare_cached(
                "UPDATE jobs SET status = 'running' WHERE id = ?1 AND status != 'completed'",
            )
            .and_then(|mut statement| statement.execute(params![id.to_string()]))
            .map(|changed| changed == 1)
            .map_err(query_error)
        })
        .await
    }

    async fn complete_job(&self, id: JobId, result: &JobResult) -> Result<bool, StoreError> {
        let result = serde_json::to_string(result).map_err(query_error)?;
        let finished_at = timestamp(OffsetDateTime::now_utc());
        self.with(move |c| {
            c.prepare_cached(
                "UPDATE jobs SET status = 'completed', result = ?2, finished_at = ?3,
                    stored_bytes = stored_bytes + length(CAST(?2 AS BLOB))
                 WHERE id = ?1 AND status != 'completed'",
            )
            .and_then(|mut statement| {
                statement.execute(params![id.to_string(), result, finished_at])
            })
            .map(|changed| changed == 1)
            .map_err(query_error)
        })
        .await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<StoredJob>, StoreError> {
        self.with(move |c| {
            c.prepare_cached(&format!("{SELECT} WHERE id = ?1"))
                .and_then(|mut statement| {
                    statement
                        .query_row(params![id.to_string()], row_to_job)
                        .optional()
                })
                .map_err(query_error)?
                .map(decode)
                .transpose()
        })
        .await
    }

    async fn list_jobs(
        &self,
        user_id: &str,
        before: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<StoredJob>, StoreError> {
        let user_id = user_id.to_string();
        // UUIDv7 text sorts by time, so "before" is a plain comparison; the
        // maximal UUID stands in for "from the newest".
        let before = before
            .map(|id| id.to_string())
            .unwrap_or_else(|| "ffffffff-ffff-ffff-ffff-ffffffffffff".into());
        self.with(move |c| {
            let mut statement = c
                .prepare_cached(&format!(
                    "{SELECT} WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
                ))
                .map_err(query_error)?;
            let rows = statement
                .query_map(params![user_id, before, limit as i64], row_to_job)
                .map_err(query_error)?;
            rows.map(|row| row.map_err(query_error).and_then(decode))
                .collect()
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(query_error))
            .await
    }

    async fn purge_finished_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        let cutoff = timestamp(cutoff);
        let mut purged = 0;
        loop {
            let cutoff = cutoff.clone();
            let deleted = self
                .with(move |c| {
                    c.prepare_cached(
                        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
                            WHERE status = 'completed' AND finished_at < ?1 LIMIT ?2)",
                    )
                    .and_then(|mut statement| statement.execute(params![cutoff, PURGE_BATCH]))
                    .map_err(query_error)
                })
                .await?;
            purged += deleted as u64;
            if (deleted as i64) < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    async fn stored_bytes(&self, user_id: &str) -> Result<u64, StoreError> {
        let user_id = user_id.to_string();
        self.with(move |c| {
            c.prepare_cached("SELECT stored_bytes FROM user_usage WHERE user_id = ?1")
                .and_then(|mut statement| {
                    statement
                        .query_row(params![user_id], |row| row.get::<_, i64>(0))
                        .optional()
                })
                .map(|bytes| bytes.unwrap_or(0).max(0) as u64)
                .map_err(query_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobStatus, Limits, Verdict};

    fn job(user: &str) -> Job {
        Job {
            id: JobId::new(),
            user_id: user.into(),
            language: "python".into(),
            files: vec![],
            stdin: String::new(),
            args: vec![],
            limits: Limits {
                time_ms: 1,
                wall_ms: 1,
                memory_mb: 1,
                pids: 1,
                output_kb: 1,
            },
            tests: vec![],
            interactive: false,
            compile_args: vec![],
            created_at: OffsetDateTime::now_utc(),
        }
    }

    fn temp_store() -> (SqliteStore, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("rce-store-{}.db", uuid::Uuid::new_v4()));
        (SqliteStore::open(&path).unwrap(), path)
    }

    /// A job goes queued → running → completed, the first result wins, and a
    /// completed job cannot go back to running.
    #[tokio::test]
    async fn lifecycle_is_idempotent() {
        let (store, path) = temp_store();
        let job = job("u1");
        store.insert_job(&job).await.unwrap();
        assert_eq!(
            store.get_job(job.id).await.unwrap().unwrap().status,
            JobStatus::Queued
        );
        assert!(store.mark_running(job.id).await.unwrap());
        let mut result = JobResult::internal_error("first");
        result.verdict = Verdict::Ok;
        assert!(store.complete_job(job.id, &result).await.unwrap());
        assert!(!store
            .complete_job(job.id, &JobResult::internal_error("second"))
            .await
            .unwrap());
        assert!(!store.mark_running(job.id).await.unwrap());
        let stored = store.get_job(job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Completed);
        assert_eq!(stored.result.unwrap().verdict, Verdict::Ok);
        assert!(stored.finished_at.is_some());
        std::fs::remove_file(path).ok();
    }

    /// Listing is per user, newest first, and pages with `before`.
    #[tokio::test]
    async fn lists_newest_first_per_user() {
        let (store, path) = temp_store();
        let jobs: Vec<Job> = (0..3).map(|_| job("u1")).collect();
        for job in &jobs {
            store.insert_job(job).await.unwrap();
        }
        store.insert_job(&job("u2")).await.unwrap();
        let listed: Vec<JobId> = store
            .list_jobs("u1", None, 10)
            .await
            .unwrap()
            .iter()
            .map(|s| s.job.id)
            .collect();
        assert_eq!(listed, vec![jobs[2].id, jobs[1].id, jobs[0].id]);
        let page: Vec<JobId> = store
            .list_jobs("u1", Some(jobs[1].id), 10)
            .await
            .unwrap()
            .iter()
            .map(|s| s.job.id)
            .collect();
        assert_eq!(page, vec![jobs[0].id]);
        std::fs::remove_file(path).ok();
    }

    /// A store written before the running totals (schema 4) gets them from
    /// its jobs when it is opened, and keeps them from then on.
    #[tokio::test]
    async fn usage_totals_are_backfilled_and_kept() {
        let path = std::env::temp_dir().join(format!("rce-store-{}.db", uuid::Uuid::new_v4()));
        {
            let connection = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..4] {
                connection.execute_batch(migration).unwrap();
            }
            connection.pragma_update(None, "user_version", 4).unwrap();
            for (id, user, bytes) in [("a", "u1", 10), ("b", "u1", 5), ("c", "u2", 7)] {
                connection
                    .execute(
                        "INSERT INTO jobs (id, user_id, language, status, job, created_at, finished_at, stored_bytes)
                         VALUES (?1, ?2, 'python', 'completed', '{}', '2026-01-01T00:00:00Z',
                                 '2026-01-01T00:00:01Z', ?3)",
                        params![id, user, bytes],
                    )
                    .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.stored_bytes("u1").await.unwrap(), 15);
        assert_eq!(store.stored_bytes("u2").await.unwrap(), 7);
        assert_eq!(store.stored_bytes("nobody").await.unwrap(), 0);
        let job = job("u2");
        store.insert_job(&job).await.unwrap();
        let with_request = store.stored_bytes("u2").await.unwrap();
        assert!(with_request > 7);
        store
            .complete_job(job.id, &JobResult::internal_error("x"))
            .await
            .unwrap();
        assert!(store.stored_bytes("u2").await.unwrap() > with_request);
        let purged = store
            .purge_finished_before(OffsetDateTime::now_utc() + time::Duration::days(1))
            .await
            .unwrap();
        assert_eq!(purged, 4);
        assert_eq!(store.stored_bytes("u1").await.unwrap(), 0);
        assert_eq!(store.stored_bytes("u2").await.unwrap(), 0);
        std::fs::remove_file(path).ok();
    }

    /// Reopening an existing file neither fails nor loses data (migrations
    /// run once).
    #[tokio::test]
    async fn reopening_keeps_data() {
        let (store, path) = temp_store();
        let job = job("u1");
        store.insert_job(&job).await.unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert!(again.get_job(job.id).await.unwrap().is_some());
        std::fs::remove_file(path).ok();
    }
}
