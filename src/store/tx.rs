//! Write transactions. Every operation that writes more than one row (a grant that consumes a code
//! or refresh token and stores what replaces it, the end of sign-in, key creation, fixture loading)
//! runs through one [`Tx`], so that a refused request or a crash between two writes leaves nothing
//! half done (kanidm's write transactions). `BEGIN IMMEDIATE` takes SQLite's write lock up front:
//! a deferred transaction that reads and then writes could fail with `SQLITE_BUSY` under
//! concurrency instead of waiting for the lock.

use sqlx::sqlite::SqliteTransactionManager;
use sqlx::{SqliteConnection, TransactionManager};
use tokio::sync::OwnedMutexGuard;

use super::Store;

/// An open write transaction on the writer connection, which it holds until it ends. Dropped
/// without [`Tx::commit`], it rolls back (queued on the connection before anything the next
/// holder runs, as sqlx's own transactions do).
pub struct Tx {
    conn: OwnedMutexGuard<SqliteConnection>,
    open: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Store {
    /// Opens a write transaction.
    pub async fn write(&self) -> sqlx::Result<Tx> {
        let mut conn = self.writer.lock().await;
        SqliteTransactionManager::begin(&mut conn, Some("BEGIN IMMEDIATE".into())).await?;
        Ok(Tx { conn, open: true })
    }
}

/// `&mut *tx` is the connection, as with sqlx's own transaction type.
impl std::ops::Deref for Tx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Tx {
    /// The connection the repositories' statements run on.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub async fn commit(mut self) -> sqlx::Result<()> {
        SqliteTransactionManager::commit(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            SqliteTransactionManager::start_rollback(&mut self.conn);
        }
    }
}
