mod backend;
mod mongo;
mod sqlite;
mod usage;

pub use backend::{open, ApiKey, Store, StoreError, StoreSettings, StoredJob, User};
pub use mongo::MongoStore;
pub use sqlite::SqliteStore;
pub use usage::check_stored_bytes;
