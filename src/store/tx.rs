//! Write transactions. Every operation that writes more than one row (a grant that consumes a code
//! or refresh token and stores what replaces it, the end of sign-in, key creation, fixture loading)
//! runs through one [`Tx`], so that a refused request or a crash between two writes leaves nothing
//! half done (kanidm's write transactions). `BEGIN IMMEDIATE` takes SQLite's write lock up front:
//! a deferred transaction that reads and then writes could fail with `SQLITE_BUSY` under
//! concurrency instead of waiting for the lock.
//!
//! Each statement sent to SQLite is a round trip to the connection's thread (two context
//! switches), and the writer stays locked for every one of them. So a transaction sends nothing
//! until it must: statements that need no answer are queued ([`Tx::defer`]) and go with the
//! next statement that does, or with the `COMMIT` (issue 12: the end of a sign-in was five
//! round trips on the writer; now one, `BEGIN` to `COMMIT`, sent at its commit
//! ([`Store::write_later`])). The queued statements run as one multi-statement query,
//! its arguments bound in order across the statements: sqlx 0.8's SQLite driver does this (its
//! other drivers do not, and sqlx calls the behaviour deprecated, so a later major version may
//! drop it; the tests in `tests/integration/write_transactions.rs` would fail then).

use sqlx::encode::Encode;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteRow};
use sqlx::{Arguments, Executor, SqliteConnection, Type};
use tokio::sync::OwnedMutexGuard;

use super::{Store, Writer};

/// A write transaction on the writer connection, which it holds from the moment it takes it
/// until it ends. Dropped without [`Tx::commit`] after it began, it is rolled back before the
/// writer's next use.
pub struct Tx {
    /// The writer, once taken ([`Store::write`] takes it at once, [`Store::write_later`] when
    /// it first sends).
    conn: Option<OwnedMutexGuard<SqliteConnection>>,
    writer: Writer,
    /// `BEGIN IMMEDIATE` has been sent (and no `COMMIT` or `ROLLBACK` since).
    begun: bool,
    pending: Batch,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Store {
    /// Opens a write transaction: takes the writer; `BEGIN IMMEDIATE` goes with the first
    /// statement.
    pub async fn write(&self) -> sqlx::Result<Tx> {
        let conn = self.writer.lock().await;
        Ok(Tx {
            conn: Some(conn),
            writer: self.writer.clone(),
            begun: false,
            pending: Batch::default(),
        })
    }

    /// A write transaction that takes the writer only when it sends: at its first statement
    /// whose answer is needed ([`Tx::conn`], [`Tx::run`]), or at [`Tx::commit`], where a
    /// transaction that sent nothing before goes whole, in one round trip, and on the writer's
    /// thread when it runs ([`Writer::run_batch`]): the writer is held for no longer than SQLite
    /// takes, instead of across the request's work between its statements (issue 12: the end of
    /// a sign-in held it across two round trips, and sign-ins did not scale to two cores). For
    /// transactions that decide nothing from what other writers do before they send (whatever
    /// depends on it belongs in the batch).
    pub fn write_later(&self) -> Tx {
        Tx {
            conn: None,
            writer: self.writer.clone(),
            begun: false,
            pending: Batch::default(),
        }
    }
}

/// Statements queued to run in one round trip, with their arguments in order.
#[derive(Default)]
struct Batch {
    sql: String,
    args: SqliteArguments<'static>,
    /// The first argument that could not be encoded (reported when the batch runs).
    error: Option<BoxDynError>,
}

/// Binds the arguments of a queued statement, in the order of its `?`s.
pub struct Binder<'t>(&'t mut Batch);

impl Binder<'_> {
    pub fn bind<T>(self, value: T) -> Self
    where
        T: Encode<'static, Sqlite> + Type<Sqlite> + 'static,
    {
        if let Err(e) = self.0.args.add(value) {
            self.0.error.get_or_insert(e);
        }
        self
    }
}

impl Tx {
    /// Queues a statement whose answer nobody needs; it runs, in order, before any later
    /// statement of this transaction and at the latest with the `COMMIT`.
    pub fn defer(&mut self, sql: &str) -> Binder<'_> {
        self.pending.sql.push_str(sql);
        self.pending.sql.push_str(";\n");
        Binder(&mut self.pending)
    }

    /// The connection, for a statement whose answer is needed now (the transaction begins and
    /// the queued statements run first, in the same round trip).
    pub async fn conn(&mut self) -> sqlx::Result<&mut SqliteConnection> {
        self.flush(false).await?;
        self.taken().await
    }

    /// The writer, taken now if it was not.
    async fn taken(&mut self) -> sqlx::Result<&mut SqliteConnection> {
        if self.conn.is_none() {
            self.conn = Some(self.writer.lock().await);
        }
        self.conn
            .as_deref_mut()
            .ok_or_else(|| sqlx::Error::Protocol("the writer was not taken".into()))
    }

    /// Runs the queued statements now (after `BEGIN` if this is the transaction's first
    /// round trip): the rows they returned (`RETURNING`), in order. (Not their counts of
    /// changed rows: SQLite reports a count for `BEGIN` too, the previous statement's.)
    pub async fn run(&mut self) -> sqlx::Result<Vec<SqliteRow>> {
        self.flush(false).await
    }

    pub fn has_queued(&self) -> bool {
        !self.pending.sql.is_empty()
    }

    pub async fn commit(mut self) -> sqlx::Result<()> {
        self.flush(true).await.map(drop)
    }

    /// Sends what is queued (after `BEGIN IMMEDIATE` if the transaction has not begun), and
    /// `COMMIT` when `commit`. A failure rolls the transaction back.
    async fn flush(&mut self, commit: bool) -> sqlx::Result<Vec<SqliteRow>> {
        let batch = std::mem::take(&mut self.pending);
        if batch.sql.is_empty() && commit != self.begun {
            // Nothing to send: the transaction is open already, or it ends having begun nothing.
            return Ok(Vec::new());
        }
        if let Some(e) = batch.error {
            return Err(sqlx::Error::Encode(e));
        }
        let mut sql = String::with_capacity(batch.sql.len() + 32);
        if !self.begun {
            sql.push_str("BEGIN IMMEDIATE;\n");
        }
        sql.push_str(&batch.sql);
        if commit {
            sql.push_str("COMMIT;");
        }
        if self.conn.is_none() && commit && self.writer.has_thread() {
            // The whole transaction in one go on the writer's thread: nothing was sent before,
            // so nothing is open. (With no such thread it runs here like any other batch.)
            return self.writer.run_batch(sql, batch.args).await;
        }
        self.begun = true;
        let conn = self.taken().await?;
        let r = run_batch(conn, &sql, batch.args).await;
        // Committed, or rolled back by `run_batch`: either way nothing is open but a transaction
        // that goes on.
        self.begun = r.is_ok() && !commit;
        r
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if !self.begun {
            return;
        }
        // The next holder of the writer rolls back first; a task takes the writer now to do it
        // at once (so that another connection's write does not wait for it).
        self.writer.conn.left_open();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let writer = self.writer.clone();
            rt.spawn(async move { drop(writer.lock().await) });
        }
    }
}

/// Runs a batch of a transaction's statements (one multi-statement query) on the writer `conn`,
/// rolling the transaction back if one fails: for [`Tx::flush`], and on the writer's thread for
/// a whole transaction sent at its commit.
pub(super) async fn run_batch(
    conn: &mut SqliteConnection,
    sql: &str,
    args: SqliteArguments<'static>,
) -> sqlx::Result<Vec<SqliteRow>> {
    let r = conn.fetch_all(sqlx::query_with(sql, args)).await;
    if r.is_err() {
        roll_back(conn).await;
    }
    r
}

/// Ends whatever transaction is open on `conn` (none is no error).
pub(super) async fn roll_back(conn: &mut SqliteConnection) {
    if let Err(e) = conn.execute("ROLLBACK").await {
        let no_transaction = matches!(&e, sqlx::Error::Database(d) if d.message().contains("no transaction is active"));
        if !no_transaction {
            tracing::error!(error = %e, "rolling back a write transaction failed");
        }
    }
}
