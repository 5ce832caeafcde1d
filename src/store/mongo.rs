//! The MongoDB backend (the production choice when several machines share one
//! store): the official `mongodb` driver's 3.x fluent API, one collection per
//! kind (`users`, `api_keys`, `jobs`) plus `meta`, which holds the schema
//! version document. Start-up connects, pings, refuses a database written by
//! a newer schema, runs the missing migration steps and creates every index
//! the queries need (idempotent). Jobs keep the same JSON payloads the SQLite
//! backend stores, beside the fields that are queried (`user_id`, `status`),
//! so the two backends cannot disagree about what a job is. A user's
//! `token_version` needs no migration step: a document without it reads as
//! 0 and the first logout-all's `$inc` creates it. Uniqueness
//! (case-folded usernames, key hashes) is enforced by unique indexes, and a
//! duplicate-key write error becomes `StoreError::Conflict`.

use super::backend::{ApiKey, Store, StoreError, StoredJob, User};
use crate::job::{Job, JobId, JobResult, JobStatus};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The schema this binary writes. Each step of [`migrate`] brings the
/// database one version further; never change a released step.
const SCHEMA_VERSION: i64 = 1;
/// How long start-up waits for a reachable server before failing, unless the
/// connection string says otherwise (the driver's own default is 30 s).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// MongoDB's error code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

pub struct MongoStore {
    database: Database,
    users: Collection<Document>,
    api_keys: Collection<Document>,
    jobs: Collection<Document>,
}

fn query_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Query(error.to_string())
}

/// A failed insert: a duplicate key is a `Conflict`, anything else a query error.
fn insert_error(error: mongodb::error::Error) -> StoreError {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == DUPLICATE_KEY => {
            StoreError::Conflict(write.message.clone())
        }
        _ => query_error(error),
    }
}

fn timestamp(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339).map_err(query_error)
}

fn text(document: &Document, field: &str) -> Result<String, StoreError> {
    document
        .get_str(field)
        .map(str::to_string)
        .map_err(|e| StoreError::Corrupt(format!("{field}: {e}")))
}

fn optional_text(document: &Document, field: &str) -> Option<String> {
    document.get_str(field).ok().map(str::to_string)
}

fn time_field(document: &Document, field: &str) -> Result<OffsetDateTime, StoreError> {
    let value = text(document, field)?;
    OffsetDateTime::parse(&value, &Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("{field}: {e}")))
}

/// A user's `token_version`: absent (an account stored before the field
/// existed) is 0; `$inc` may have stored it as an int32 or an int64.
fn token_version(document: &Document) -> Result<u64, StoreError> {
    let stored = match document.get("token_version") {
        None => 0,
        Some(mongodb::bson::Bson::Int32(n)) => i64::from(*n),
        Some(mongodb::bson::Bson::Int64(n)) => *n,
        Some(other) => {
            return Err(StoreError::Corrupt(format!("token_version: {other}")));
        }
    };
    u64::try_from(stored).map_err(|_| StoreError::Corrupt(format!("token_version {stored}")))
}

fn decode_user(document: &Document) -> Result<User, StoreError> {
    Ok(User {
        id: text(document, "_id")?,
        username: text(document, "username")?,
        password_hash: text(document, "password_hash")?,
        created_at: time_field(document, "created_at")?,
        token_version: token_version(document)?,
    })
}

fn decode_key(document: &Document) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: text(document, "_id")?,
        user_id: text(document, "user_id")?,
        name: text(document, "name")?,
        prefix: text(document, "prefix")?,
        hash: text(document, "hash")?,
        created_at: time_field(document, "created_at")?,
    })
}

fn decode_job(document: &Document) -> Result<StoredJob, StoreError> {
    StoredJob::from_columns(
        &text(document, "job")?,
        &text(document, "status")?,
        optional_text(document, "result"),
        optional_text(document, "finished_at"),
    )
}

fn index(keys: Document, unique: bool) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().unique(unique).build())
        .build()
}

impl MongoStore {
    /// Connects to `url`, checks the schema version and creates the indexes.
    pub async fn connect(url: &str, database: &str) -> Result<MongoStore, StoreError> {
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| StoreError::Open(format!("mongodb url: {e}")))?;
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(SERVER_SELECTION_TIMEOUT);
        }
        if options.app_name.is_none() {
            options.app_name = Some("rce".into());
        }
        let client = Client::with_options(options).map_err(|e| StoreError::Open(e.to_string()))?;
        let database = client.database(database);
        database
            .run_command(doc! {"ping": 1})
            .await
            .map_err(|e| StoreError::Open(format!("mongodb ping: {e}")))?;
        let store = MongoStore {
            users: database.collection("users"),
            api_keys: database.collection("api_keys"),
            jobs: database.collection("jobs"),
            database,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the database to [`SCHEMA_VERSION`] and (re)creates the indexes.
    async fn migrate(&self) -> Result<(), StoreError> {
        let meta: Collection<Document> = self.database.collection("meta");
        let current = meta
            .find_one(doc! {"_id": "schema"})
            .await
            .map_err(|e| StoreError::Open(format!("reading the schema version: {e}")))?
            .and_then(|document| document.get_i64("version").ok())
            .unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(StoreError::Open(format!(
                "the database is at schema version {current}, newer than this binary's {SCHEMA_VERSION}"
            )));
        }
        // Version 1: users, API keys, jobs. Index creation is idempotent, so
        // it runs at every start-up and repairs a dropped index too.
        let open_error =
            |e: mongodb::error::Error| StoreError::Open(format!("creating indexes: {e}"));
        self.users
            .create_index(index(doc! {"username_key": 1}, true))
            .await
            .map_err(open_error)?;
        self.api_keys
            .create_index(index(doc! {"hash": 1}, true))
            .await
            .map_err(open_error)?;
        self.api_keys
            .create_index(index(doc! {"user_id": 1, "_id": 1}, false))
            .await
            .map_err(open_error)?;
        let job_indexes = [
            // Listing newest first; counting active jobs.
            doc! {"user_id": 1, "_id": -1},
            doc! {"user_id": 1, "status": 1},
            // The retention purge (completed jobs by age) and the
            // stored-bytes sum per user (covered; jobs from before the
            // field count 0).
            doc! {"status": 1, "finished_at": 1},
            doc! {"user_id": 1, "stored_bytes": 1},
        ];
        self.jobs
            .create_indexes(job_indexes.map(|keys| index(keys, false)))
            .await
            .map_err(open_error)?;
        meta.update_one(
            doc! {"_id": "schema"},
            doc! {"$max": {"version": SCHEMA_VERSION}},
        )
        .upsert(true)
        .await
        .map_err(|e| StoreError::Open(format!("writing the schema version: {e}")))?;
        Ok(())
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let document = doc! {
            "_id": &user.id,
            "username": &user.username,
            "username_key": User::username_key(&user.username),
            "password_hash": &user.password_hash,
            "created_at": timestamp(user.created_at)?,
            "token_version": i64::try_from(user.token_version).map_err(query_error)?,
        };
        self.users
            .insert_one(document)
            .await
            .map(|_| ())
            .map_err(insert_error)
    }

    async fn find_user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let found = self
            .users
            .find_one(doc! {"username_key": User::username_key(username)})
            .await
            .map_err(query_error)?;
        found.as_ref().map(decode_user).transpose()
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let found = self
            .users
            .find_one(doc! {"_id": id})
            .await
            .map_err(query_error)?;
        found.as_ref().map(decode_user).transpose()
    }

    async fn bump_token_version(&self, user_id: &str) -> Result<Option<u64>, StoreError> {
        // One atomic update; `$inc` on a missing field (an account from
        // before it existed) starts from 0.
        let updated = self
            .users
            .find_one_and_update(
                doc! {"_id": user_id},
                doc! {"$inc": {"token_version": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(query_error)?;
        updated.as_ref().map(token_version).transpose()
    }

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let document = doc! {
            "_id": &key.id,
            "user_id": &key.user_id,
            "name": &key.name,
            "prefix": &key.prefix,
            "hash": &key.hash,
            "created_at": timestamp(key.created_at)?,
        };
        self.api_keys
            .insert_one(document)
            .await
            .map(|_| ())
            .map_err(insert_error)
    }

    async fn list_api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let cursor = self
            .api_keys
            .find(doc! {"user_id": user_id})
            .sort(doc! {"_id": 1})
            .await
            .map_err(query_error)?;
        let documents: Vec<Document> = cursor.try_collect().await.map_err(query_error)?;
        documents.iter().map(decode_key).collect()
    }

    async fn delete_api_key(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .api_keys
            .delete_one(doc! {"_id": id, "user_id": user_id})
            .await
            .map_err(query_error)?;
        Ok(deleted.deleted_count == 1)
    }

    async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let found = self
            .api_keys
            .find_one(doc! {"hash": hash})
            .await
            .map_err(query_error)?;
        found.as_ref().map(decode_key).transpose()
    }

    async fn count_active_jobs(&self, user_id: &str) -> Result<u64, StoreError> {
        self.jobs
            .count_documents(doc! {"user_id": user_id, "status": {"$in": ["queued", "running"]}})
            .await
            .map_err(query_error)
    }

    async fn insert_job(&self, job: &Job) -> Result<(), StoreError> {
        let text = serde_json::to_string(job).map_err(query_error)?;
        let document = doc! {
            "_id": job.id.to_string(),
            "user_id": &job.user_id,
            "language": &job.language,
            "status": JobStatus::Queued.as_str(),
            "stored_bytes": text.len() as i64,
            "job": text,
            "created_at": timestamp(job.created_at)?,
        };
        self.jobs
            .insert_one(document)
            .await
            .map(|_| ())
            .map_err(insert_error)
    }

    async fn mark_running(&self, id: JobId) -> Result<bool, StoreError> {
        let updated = self
            .jobs
            .update_one(
                doc! {"_id": id.to_string(), "status": {"$ne": JobStatus::Completed.as_str()}},
                doc! {"$set": {"status": JobStatus::Running.as_str()}},
            )
            .await
            .map_err(query_error)?;
        Ok(updated.matched_count == 1)
    }

    async fn complete_job(&self, id: JobId, result: &JobResult) -> Result<bool, StoreError> {
        let result = serde_json::to_string(result).map_err(query_error)?;
        let updated = self
            .jobs
            .update_one(
                doc! {"_id": id.to_string(), "status": {"$ne": JobStatus::Completed.as_str()}},
                doc! {
                    "$set": {
                        "status": JobStatus::Completed.as_str(),
                        "finished_at": timestamp(OffsetDateTime::now_utc())?,
                        "result": result.as_str(),
                    },
                    "$inc": {"stored_bytes": result.len() as i64},
                },
            )
            .await
            .map_err(query_error)?;
        Ok(updated.matched_count == 1)
    }

    async fn get_job(&self, id: JobId) -> Result<Option<StoredJob>, StoreError> {
        let found = self
            .jobs
            .find_one(doc! {"_id": id.to_string()})
            .await
            .map_err(query_error)?;
        found.as_ref().map(decode_job).transpose()
    }

    async fn list_jobs(
        &self,
        user_id: &str,
        before: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<StoredJob>, StoreError> {
        // UUIDv7 text sorts by time, as in the SQLite backend.
        let mut filter = doc! {"user_id": user_id};
        if let Some(before) = before {
            filter.insert("_id", doc! {"$lt": before.to_string()});
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cursor = self
            .jobs
            .find(filter)
            .sort(doc! {"_id": -1})
            .limit(limit)
            .await
            .map_err(query_error)?;
        let documents: Vec<Document> = cursor.try_collect().await.map_err(query_error)?;
        documents.iter().map(decode_job).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.database
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(query_error)
    }

    async fn purge_finished_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        // finished_at is RFC 3339 in UTC, so text order is time order.
        let deleted = self
            .jobs
            .delete_many(doc! {
                "status": JobStatus::Completed.as_str(),
                "finished_at": {"$lt": timestamp(cutoff)?},
            })
            .await
            .map_err(query_error)?;
        Ok(deleted.deleted_count)
    }

    async fn stored_bytes(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut totals = self
            .jobs
            .aggregate([
                doc! {"$match": {"user_id": user_id}},
                doc! {"$group": {"_id": null, "total": {"$sum": "$stored_bytes"}}},
            ])
            .await
            .map_err(query_error)?;
        let Some(total) = totals.try_next().await.map_err(query_error)? else {
            return Ok(0);
        };
        // $sum gives an int32 or int64 (or a double past i64).
        let bytes = match total.get("total") {
            Some(mongodb::bson::Bson::Int32(n)) => i64::from(*n),
            Some(mongodb::bson::Bson::Int64(n)) => *n,
            Some(mongodb::bson::Bson::Double(n)) => *n as i64,
            _ => 0,
        };
        Ok(bytes.max(0) as u64)
    }
}
