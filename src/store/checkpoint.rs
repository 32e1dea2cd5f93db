//! Checkpoints off the writer's path (issue 12). SQLite's automatic checkpoint runs inside the
//! commit that takes the WAL past 1,000 frames, on the connection that made it: it copies the WAL
//! into the database file and calls `fsync` twice (2-3 ms each on the benchmark's machine), and
//! with one connection that writes, no write can start meanwhile, so every request waiting to
//! write waits with it. Here the writer's automatic checkpoint is off, and a thread of its own,
//! on a connection of its own, runs a passive checkpoint every [`WRITES_PER_CHECKPOINT`] writes:
//! in WAL mode writers go on while a checkpoint copies and syncs
//! (<https://www.sqlite.org/wal.html#checkpointing>).
//!
//! A passive checkpoint does not reset the WAL; the next write does, when it finds every frame
//! copied. Under writes that never pause that moment may not come and the WAL would grow without
//! end, so once it holds [`RESTART_FRAMES`] frames the checkpoint takes the writer (no write runs
//! meanwhile) and has the WAL start again from its beginning. The file keeps its size (at most
//! about 17 MB), so the next frames are written over its blocks rather than into new ones.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::mpsc;

use super::WriterConn;

/// Writes between two passive checkpoints (a write is one transaction or statement of the
/// writer: five to eight WAL frames for a refresh grant or a sign-in's step, so about as often
/// as SQLite's own every 1,000 frames).
pub const WRITES_PER_CHECKPOINT: u32 = 128;
/// WAL frames (pages of 4 KiB) past which a checkpoint holds the writes back to restart the WAL.
pub const RESTART_FRAMES: i64 = 4_000;

/// The writers' side: counts writes and wakes the checkpoint thread. The thread ends, closing
/// its connection, once this is dropped.
#[derive(Debug)]
pub(super) struct Checkpoints {
    writes: AtomicU32,
    wake: mpsc::Sender<()>,
}

impl Checkpoints {
    /// Starts the checkpoint thread (a current-thread runtime of its own); its connection opens
    /// at the first checkpoint.
    pub(super) fn start(
        options: SqliteConnectOptions,
        writer: WriterConn,
    ) -> std::io::Result<Checkpoints> {
        let (wake, mut woken) = mpsc::channel::<()>(1);
        super::spawn_thread("store-checkpoint", async move {
            let mut conn = None;
            while woken.recv().await.is_some() {
                if let Err(e) = checkpoint(&mut conn, &options, &writer).await {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    conn = None;
                }
            }
        })?;
        Ok(Checkpoints {
            writes: AtomicU32::new(0),
            wake,
        })
    }

    /// Counts one write; every [`WRITES_PER_CHECKPOINT`]th wakes the checkpoint thread (unless
    /// it has a wake-up waiting already).
    pub(super) fn wrote(&self) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        if n % WRITES_PER_CHECKPOINT == WRITES_PER_CHECKPOINT - 1 {
            let _ = self.wake.try_send(());
        }
    }
}

/// One passive checkpoint, and the restart of the WAL when it has grown past [`RESTART_FRAMES`].
async fn checkpoint(
    conn: &mut Option<SqliteConnection>,
    options: &SqliteConnectOptions,
    writer: &WriterConn,
) -> sqlx::Result<()> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(SqliteConnection::connect_with(options).await?),
    };
    // One row: whether it was blocked, the WAL's frames, the frames copied.
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await?;
    if frames >= RESTART_FRAMES {
        let _writes_wait = writer.lock().await;
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
