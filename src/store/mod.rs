mod backend;
mod sqlite;

pub use backend::{open, Store, StoreError, StoreSettings, StoredJob};
pub use sqlite::SqliteStore;
