mod backend;
mod mongo;
mod sqlite;

pub use backend::{open, ApiKey, Store, StoreError, StoreSettings, StoredJob, User};
pub use mongo::MongoStore;
pub use sqlite::SqliteStore;
