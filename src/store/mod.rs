//! SQLite through sqlx: one file, WAL mode, migrations from `migrations/` applied at start.
//! Repositories live in the submodules; single-use rows are consumed atomically in SQL.

/// A statement's text built from the column lists once, at its first use, instead of
/// formatted again on every request.
macro_rules! sql_once {
    ($($fmt:tt)*) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!($($fmt)*));
        SQL.as_str()
    }};
}

pub mod checkpoint;
pub mod codes;
pub mod consents;
pub mod device_codes;
pub mod directory;
pub mod keys;
pub mod purge;
pub mod refresh;
pub mod sessions;
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
use sqlx::{Connection, SqliteConnection};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

#[derive(Clone, Debug)]
pub struct Store {
    /// The connections the repositories read on ([`Readers`]).
    readers: Readers,
    /// An sqlx pool on the same file for ad-hoc reads from outside the repositories (the
    /// tests' checks of what is stored); it opens its connections on first use.
    pub pool: SqlitePool,
    /// The one connection that writes ([`Writer`]).
    pub writer: Writer,
    /// Wakes the background purge when many device code flows start ([`purge`]).
    pub purge_signal: std::sync::Arc<purge::PurgeSignal>,
}

/// Reader connections opened as they are needed, at most this many.
const READERS: usize = 8;

impl Store {
    /// A connection to read on. With one worker (no writer's thread), the writer's: every
    /// write on another connection empties a reader's page cache (SQLite resets it when the WAL
    /// has changed since its last read), so a reader reads each page again from the file, a
    /// system call and a copy each; the writer's cache stays warm, its own writes being the
    /// only ones (issue 12: in alternating runs on one core, sign-ins 3 to 5 points nearer the
    /// signing limit, refresh grants 2 to 3; taking it only when free gained nothing, as a
    /// write is in flight most of the time). A read waits for the write before it; one asked
    /// for by the task that holds the writer (inside its transaction) goes to a reader and sees
    /// what is committed, as every read did before. With more workers, [`Readers`] only: a read
    /// on the writer would hold back the writer's thread.
    pub async fn read(&self) -> sqlx::Result<Reader> {
        if !self.writer.has_thread() {
            if let Some(conn) = self.writer.conn.lock_for_read().await {
                return Ok(Reader::Writer(conn));
            }
        }
        Ok(Reader::Pool(self.readers.get().await?))
    }

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
        let mut writer = SqliteConnection::connect_with(&options)
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        let empty: i64 = sqlx::query_scalar("SELECT count(*) = 0 FROM sqlite_master")
            .fetch_one(&mut writer)
            .await?;
        let migrator = sqlx::migrate!("./migrations");
        if empty != 0 {
            create_schema(&mut writer, &migrator)
                .await
                .context("creating the schema")?;
        }
        migrator
            .run(&mut writer)
            .await
            .context("applying migrations")?;
        if empty != 0 {
            // Creating every table filled this connection's page cache and statement cache
            // with pages and statements no request reads again: a new connection starts
            // without them (issue 12, idle RSS: 0.25 MiB on every `--ephemeral` start). It is
            // opened before the old one closes: the last connection to close checkpoints the
            // whole WAL into the file and deletes it, two fsyncs and every page written again
            // (5-10 ms of an empty-dir start; https://www.sqlite.org/wal.html#the_wal_file).
            let fresh = SqliteConnection::connect_with(&options).await?;
            std::mem::replace(&mut writer, fresh).close().await?;
        }
        // Checkpoints run on a thread of their own ([`checkpoint`]), never in a write's commit.
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut writer)
            .await?;
        let readers = Readers::open(options.clone())
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        let conn = WriterConn::new(writer);
        let checkpoints = checkpoint::Checkpoints::start(options.clone(), conn.clone())
            .context("starting the store's checkpoint thread")?;
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_lazy_with(options);
        Ok(Store {
            readers,
            pool,
            writer: Writer {
                conn,
                jobs: None,
                checkpoints: Arc::new(checkpoints),
            },
            purge_signal: Default::default(),
        })
    }

    /// Runs the hot single-statement writes on a thread of their own ([`Writer`]): for a
    /// server with more than one worker. Before the store is cloned.
    pub fn start_writer_thread(&mut self) -> anyhow::Result<()> {
        self.writer
            .start_thread()
            .context("starting the store's writer thread")
    }
}

/// The schema the migrations make, as SQLite keeps it (`sqlite_master`), sqlx's own
/// `_sqlx_migrations` table included, through the migration its first line names: generated
/// from sqlx's own run of `migrations/` by the test `store_schema` (`ENTRA_MOCK_WRITE_SCHEMA=1`),
/// which fails when it no longer matches.
const SCHEMA: &str = include_str!("schema.sql");

/// The last migration [`SCHEMA`] holds (its first line, `-- through migration N`).
fn schema_through() -> Option<i64> {
    SCHEMA
        .lines()
        .next()?
        .strip_prefix("-- through migration ")?
        .trim()
        .parse()
        .ok()
}

/// An empty database gets the schema the migrations make in one script ([`SCHEMA`]), with every
/// migration recorded as sqlx records it (its version, description and checksum in
/// `_sqlx_migrations`), in one transaction. A script that does not hold the last migration (a
/// new one, before the test wrote the script again) is not used: the migrator's run after
/// applies every migration, one by one, as it does on a store of an older version. sqlx applies
/// each migration in a transaction of its own, and an `ALTER TABLE` makes SQLite parse the
/// whole schema again: the 26 migrations cost 18-29 ms of a 45-60 ms `--ephemeral` start on a
/// host signing 1,400 RS256 signatures/s, the script about 4 ms (issue 12 item 1: 50 ms).
async fn create_schema(
    conn: &mut SqliteConnection,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<()> {
    use sqlx::Connection;
    let held: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let last = held.iter().map(|m| m.version).max();
    if last.is_none() || last != schema_through() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *tx)
        .await
        .context("the schema script")?;
    let mut insert = sqlx::QueryBuilder::new(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) ",
    );
    insert.push_values(held, |mut row, m| {
        row.push_bind(m.version)
            .push_bind(&*m.description)
            .push("TRUE")
            .push_bind(&*m.checksum)
            .push("0");
    });
    insert.build().execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The one connection that writes, behind a queue. SQLite takes one writer at a time;
/// contending writers would wait in SQLite's busy handler, which sleeps in steps of up to
/// 100 ms. Queued here instead, each write starts as soon as the previous one ends (issue 12:
/// refresh grants stalled at 1 core with a p99 of 100 ms). A mutex rather than a pool of one:
/// a pool hands a connection back through a task that pings it first, so the next write
/// waited for a busy worker thread to run that task (refresh grants did not scale past one
/// core).
///
/// A lock is released only when the task holding it runs again, and a request's task waits for
/// its worker thread, which is often in the middle of a signature: the writer stayed locked
/// for most of a signature after each write (issue 12: refresh grants did not scale to two
/// cores). So with more than one worker the single statements of the hot paths go to the
/// writer's own thread ([`Writer::execute`], [`Store::start_writer_thread`]), which is never
/// busy with anything else: it takes the lock, runs the statement and lets go at once. With one
/// worker there is no other worker to wait, and the hop to that thread would only cost (refresh
/// grants on one core: 5-10% slower with it, measured).
#[derive(Clone)]
pub struct Writer {
    conn: WriterConn,
    /// The statements waiting for the writer's thread, in order, when it runs.
    jobs: Option<tokio::sync::mpsc::UnboundedSender<WriteJob>>,
    /// Counts the writes, for the checkpoints off the writer's path.
    checkpoints: Arc<checkpoint::Checkpoints>,
}

/// What the writer's thread runs, and where its answer goes.
enum WriteJob {
    /// One statement.
    Statement(
        sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'static>>,
        tokio::sync::oneshot::Sender<sqlx::Result<sqlx::sqlite::SqliteQueryResult>>,
    ),
    /// A whole transaction's statements, `BEGIN` to `COMMIT` ([`Tx::commit`] of a transaction
    /// that sent nothing before), rolled back if one fails.
    Batch(
        String,
        sqlx::sqlite::SqliteArguments<'static>,
        tokio::sync::oneshot::Sender<sqlx::Result<Vec<sqlx::sqlite::SqliteRow>>>,
    ),
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer's thread (a current-thread runtime of its own, ending with the last
    /// [`Writer`]).
    fn start_thread(&mut self) -> std::io::Result<()> {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<WriteJob>();
        let conn = self.conn.clone();
        spawn_thread("store-writer", async move {
            while let Some(job) = queue.recv().await {
                let mut c = conn.lock().await;
                // The request may have gone (a dropped connection): the write stands.
                match job {
                    WriteJob::Statement(query, answer) => {
                        let r = query.execute(&mut *c).await;
                        drop(c);
                        let _ = answer.send(r);
                    }
                    WriteJob::Batch(sql, args, answer) => {
                        let r = tx::run_batch(&mut c, &sql, args).await;
                        drop(c);
                        let _ = answer.send(r);
                    }
                }
            }
        })?;
        self.jobs = Some(jobs);
        Ok(())
    }

    /// The connection, once every write queued before this one has ended (and a transaction
    /// a dropped [`Tx`] left open is rolled back).
    pub async fn lock(&self) -> OwnedMutexGuard<SqliteConnection> {
        self.checkpoints.wrote().await;
        self.conn.lock().await
    }

    /// A checkpoint of the WAL now, off the writer's path; returns when it finished
    /// ([`checkpoint::Checkpoints::now`]).
    pub async fn checkpoint_now(&self) {
        self.checkpoints.now().await;
    }

    /// Runs one statement, in turn with every other write: on the writer's thread when it
    /// runs, else here.
    pub async fn execute(
        &self,
        query: sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'static>>,
    ) -> sqlx::Result<sqlx::sqlite::SqliteQueryResult> {
        let Some(jobs) = &self.jobs else {
            return query.execute(&mut *self.lock().await).await;
        };
        self.checkpoints.wrote().await;
        let (answer, answered) = tokio::sync::oneshot::channel();
        jobs.send(WriteJob::Statement(query, answer))
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answered.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// Whether the writer's thread runs ([`Store::start_writer_thread`]).
    fn has_thread(&self) -> bool {
        self.jobs.is_some()
    }

    /// Runs a whole transaction (`BEGIN` to `COMMIT`, one multi-statement query) on the writer's
    /// thread, in turn with every other write, rolled back if a statement fails: the writer is
    /// held for no longer than SQLite takes.
    async fn run_batch(
        &self,
        sql: String,
        args: sqlx::sqlite::SqliteArguments<'static>,
    ) -> sqlx::Result<Vec<sqlx::sqlite::SqliteRow>> {
        let jobs = self.jobs.as_ref().ok_or(sqlx::Error::PoolClosed)?;
        self.checkpoints.wrote().await;
        let (answer, answered) = tokio::sync::oneshot::channel();
        jobs.send(WriteJob::Batch(sql, args, answer))
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answered.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

/// Runs `task` on a thread named `name`, in a current-thread runtime of its own, until it ends.
fn spawn_thread(
    name: &str,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || rt.block_on(task))
        .map(drop)
}

/// The writer's connection, shared by the [`Writer`]s, the writer's thread and the checkpoint
/// thread (which holds writes back while it restarts the WAL).
#[derive(Clone)]
struct WriterConn {
    conn: Arc<Mutex<SqliteConnection>>,
    marks: Arc<WriterMarks>,
}

#[derive(Default)]
struct WriterMarks {
    /// Set by a [`Tx`] dropped inside its transaction: the next holder rolls it back.
    open_tx: AtomicBool,
    /// The task that took the connection last (`None` outside a task), so that a read asked
    /// for while it holds it does not wait for itself ([`Store::read`]).
    holder: std::sync::Mutex<Option<tokio::task::Id>>,
}

impl WriterConn {
    fn new(conn: SqliteConnection) -> WriterConn {
        WriterConn {
            conn: Arc::new(Mutex::new(conn)),
            marks: Arc::default(),
        }
    }

    /// The connection, once every holder before has let go, with no transaction left open.
    async fn lock(&self) -> OwnedMutexGuard<SqliteConnection> {
        let conn = self.conn.clone().lock_owned().await;
        self.taken(conn).await
    }

    /// The connection for a read ([`Store::read`]): at once when free, else once the task
    /// holding it lets go; `None` when that task is the current one (it would wait for itself).
    /// Just after another task takes it, before it marks itself the holder, the mark may still
    /// name this task: the read then goes to a reader, never into a deadlock.
    async fn lock_for_read(&self) -> Option<OwnedMutexGuard<SqliteConnection>> {
        if let Ok(conn) = self.conn.clone().try_lock_owned() {
            return Some(self.taken(conn).await);
        }
        let held_here = self
            .marks
            .holder
            .lock()
            .map_or(true, |holder| *holder == tokio::task::try_id());
        if held_here {
            return None;
        }
        Some(self.lock().await)
    }

    /// Marks the current task as the holder and rolls back a transaction a dropped [`Tx`] left
    /// open.
    async fn taken(
        &self,
        mut conn: OwnedMutexGuard<SqliteConnection>,
    ) -> OwnedMutexGuard<SqliteConnection> {
        if let Ok(mut holder) = self.marks.holder.lock() {
            *holder = tokio::task::try_id();
        }
        if self.marks.open_tx.swap(false, Ordering::AcqRel) {
            tx::roll_back(&mut conn).await;
        }
        conn
    }

    /// A [`Tx`] was dropped inside its transaction: the next holder rolls it back.
    fn left_open(&self) {
        self.marks.open_tx.store(true, Ordering::Release);
    }
}

/// A connection to read on, held until dropped.
pub enum Reader {
    /// One of [`Readers`].
    Pool(OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>),
    /// The writer's connection, taken once the write before the read ended ([`Store::read`]).
    Writer(OwnedMutexGuard<SqliteConnection>),
}

impl std::ops::Deref for Reader {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match self {
            Reader::Pool(c) => c,
            Reader::Writer(c) => c,
        }
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Reader::Pool(c) => c,
            Reader::Writer(c) => c,
        }
    }
}

/// The connections that read (WAL: they never wait on the writer), opened as they are needed up
/// to [`READERS`]. Not an sqlx pool: a pool takes each connection back through a task that
/// pings it on its thread first, a second round trip per query (issue 12: reads were a large
/// part of a sign-in's CPU).
#[derive(Clone)]
struct Readers {
    slots: Arc<[Arc<Mutex<Option<SqliteConnection>>>]>,
    /// Where a request waits when every connection is busy (in turn).
    next: Arc<AtomicUsize>,
    options: SqliteConnectOptions,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readers")
    }
}

impl Readers {
    /// Opens the first connection (so a store that cannot be read fails at start).
    async fn open(options: SqliteConnectOptions) -> sqlx::Result<Readers> {
        let first = SqliteConnection::connect_with(&options).await?;
        let slots: Vec<_> = std::iter::once(Some(first))
            .chain(std::iter::repeat_with(|| None).take(READERS - 1))
            .map(|c| Arc::new(Mutex::new(c)))
            .collect();
        Ok(Readers {
            slots: slots.into(),
            next: Arc::default(),
            options,
        })
    }

    /// The first free connection (the lowest, so a light load keeps few open), opening it if
    /// it is not yet; when all are busy, the next in turn once it is free.
    async fn get(
        &self,
    ) -> sqlx::Result<OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>> {
        let free = self
            .slots
            .iter()
            .find_map(|slot| slot.clone().try_lock_owned().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
                self.slots[i].clone().lock_owned().await
            }
        };
        if slot.is_none() {
            *slot = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        OwnedMutexGuard::try_map(slot, Option::as_mut)
            .map_err(|_| sqlx::Error::Protocol("a reader slot without a connection".into()))
    }
}
