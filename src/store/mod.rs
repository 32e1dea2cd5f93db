//! SQLite through sqlx: one file, WAL mode, migrations from `migrations/` applied at start.
//! Repositories live in the submodules; single-use rows are consumed atomically in SQL.

pub mod codes;
pub mod consents;
pub mod device_codes;
pub mod directory;
pub mod keys;
pub mod purge;
pub mod refresh;
pub mod sessions;
pub mod signin;
pub mod tx;
pub mod users;
pub mod webauthn;

pub use tx::Tx;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

#[derive(Clone, Debug)]
pub struct Store {
    /// Readers (WAL: they never wait on the writer).
    pub pool: SqlitePool,
    /// The one connection that writes. SQLite takes one writer at a time; contending writers
    /// would wait in SQLite's busy handler, which sleeps in steps of up to 100 ms. Queued here
    /// instead, each write starts as soon as the previous one commits (issue 12, refresh grants
    /// stalled at 1 core with a p99 of 100 ms).
    pub writer: SqlitePool,
    /// Wakes the background purge when many sign-in flows start ([`purge`]).
    pub purge_signal: std::sync::Arc<purge::PurgeSignal>,
}

impl Store {
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // 1 MiB of page cache per connection (SQLite's default is 2 MiB): the hot rows are
            // few, and the memory a burst of writes leaves behind stays bounded (issue 12).
            .pragma("cache_size", "-1024")
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .context("applying migrations")?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        Ok(Store {
            pool,
            writer,
            purge_signal: Default::default(),
        })
    }
}
