//! Write transactions. Every operation that writes more than one row (a grant that consumes a code
//! or refresh token and stores what replaces it, the end of sign-in, key creation, fixture loading)
//! runs through one [`Tx`], so that a refused request or a crash between two writes leaves nothing
//! half done (kanidm's write transactions). `BEGIN IMMEDIATE` takes SQLite's write lock up front:
//! a deferred transaction that reads and then writes could fail with `SQLITE_BUSY` under
//! concurrency instead of waiting for the lock.

use sqlx::{Sqlite, SqliteConnection, Transaction};

use super::Store;

/// An open write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx(Transaction<'static, Sqlite>);

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Store {
    /// Opens a write transaction.
    pub async fn write(&self) -> sqlx::Result<Tx> {
        Ok(Tx(self.writer.begin_with("BEGIN IMMEDIATE").await?))
    }
}

/// `&mut *tx` is the connection, as with sqlx's own transaction type.
impl std::ops::Deref for Tx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }
}

impl Tx {
    /// The connection the repositories' statements run on.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        self.0.commit().await
    }
}
