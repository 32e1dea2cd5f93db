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
//!
//! All that holds while checkpoints keep up. On a loaded machine a checkpoint's `fsync` can take
//! far longer than the writes it copies (CI once saw the WAL pass 34 MB while compilers wrote to
//! the same disk), so a write waits once [`MAX_WRITES_BEHIND`] writes came after the start of the
//! last checkpoint that finished: the WAL stays bounded however slow the disk is, and on a
//! machine that keeps up no write ever waits.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot, Notify};

use super::WriterConn;

/// Writes between two passive checkpoints (a write is one transaction or statement of the
/// writer: five to eight WAL frames for a refresh grant or a sign-in's step, so about as often
/// as SQLite's own every 1,000 frames).
pub const WRITES_PER_CHECKPOINT: u32 = 128;
/// WAL frames (pages of 4 KiB) past which a checkpoint holds the writes back to restart the WAL.
pub const RESTART_FRAMES: i64 = 4_000;
/// Writes after the start of the last finished checkpoint past which a write waits for the next
/// one: with the checkpoint woken every [`WRITES_PER_CHECKPOINT`] writes, four checkpoints late.
pub const MAX_WRITES_BEHIND: u32 = 4 * WRITES_PER_CHECKPOINT;

/// The writers' side: counts writes and wakes the checkpoint thread. The thread ends, closing
/// its connection, once this is dropped.
#[derive(Debug)]
pub(super) struct Checkpoints {
    /// Wakes the thread; a checkpoint asked for with a sender is answered when it finished.
    wake: mpsc::Sender<Option<oneshot::Sender<()>>>,
    progress: Arc<Progress>,
}

/// The writes, and how far the checkpoints got: shared with the thread.
#[derive(Debug, Default)]
struct Progress {
    writes: AtomicU32,
    /// `writes` when the last finished checkpoint started.
    covered: AtomicU32,
    /// Told when a checkpoint finished.
    finished: Notify,
}

impl Checkpoints {
    /// Starts the checkpoint thread (a current-thread runtime of its own); its connection opens
    /// at the first checkpoint.
    pub(super) fn start(
        options: SqliteConnectOptions,
        writer: WriterConn,
    ) -> std::io::Result<Checkpoints> {
        let (wake, mut woken) = mpsc::channel::<Option<oneshot::Sender<()>>>(1);
        let progress = Arc::new(Progress::default());
        let shared = progress.clone();
        super::spawn_thread("store-checkpoint", async move {
            let mut conn = None;
            while let Some(answer) = woken.recv().await {
                let start = shared.writes.load(Ordering::Relaxed);
                if let Err(e) = checkpoint(&mut conn, &options, &writer).await {
                    // The writes waiting go on all the same: a failed checkpoint must not stop
                    // the server.
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    conn = None;
                }
                shared.covered.store(start, Ordering::Release);
                shared.finished.notify_waiters();
                if let Some(answer) = answer {
                    let _ = answer.send(());
                }
            }
        })?;
        Ok(Checkpoints { wake, progress })
    }

    /// Counts one write; every [`WRITES_PER_CHECKPOINT`]th wakes the checkpoint thread (unless
    /// it has a wake-up waiting already). Waits while the checkpoints are more than
    /// [`MAX_WRITES_BEHIND`] writes behind.
    pub(super) async fn wrote(&self) {
        let n = self
            .progress
            .writes
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if n % WRITES_PER_CHECKPOINT == 0 {
            let _ = self.wake.try_send(None);
        }
        let behind = || writes_behind(n, self.progress.covered.load(Ordering::Acquire));
        // Were the checkpoint thread gone (its channel closed), nothing would catch up: then
        // writes go on unbounded, as they did before the bound, rather than stop the server.
        while behind() > MAX_WRITES_BEHIND as i32 && !self.wake.is_closed() {
            let finished = self.progress.finished.notified();
            tokio::pin!(finished);
            // Registered before the second look, so a checkpoint finishing in between is seen.
            finished.as_mut().enable();
            if behind() <= MAX_WRITES_BEHIND as i32 {
                break;
            }
            finished.await;
        }
    }

    /// A checkpoint now, off the writer's path; returns when it finished. After a write of many
    /// pages, such as one of the purge's batches, so that the WAL is copied back and starts
    /// again before the next one instead of growing by a batch each time.
    pub(super) async fn now(&self) {
        let (answer, answered) = oneshot::channel();
        if self.wake.send(Some(answer)).await.is_ok() {
            let _ = answered.await;
        }
    }
}

/// How many writes the `n`th is past the start of the last finished checkpoint, which saw
/// `covered` writes: negative when that checkpoint started after it (and so covers it). The
/// counters wrap, so the difference is read as signed.
fn writes_behind(n: u32, covered: u32) -> i32 {
    n.wrapping_sub(covered) as i32
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_a_later_checkpoint_covers_is_not_behind_even_where_the_counters_wrap() {
        // The checkpoint started after the 100th write: that write must not wait for another
        // (it waited forever when the difference was read unsigned).
        assert!(writes_behind(100, 150) <= 0);
        assert!(writes_behind(u32::MAX - 5, 20) <= 0);
        // Writes past the checkpoint count, across the wrap too.
        assert_eq!(writes_behind(1_000, 400), 600);
        assert_eq!(writes_behind(10, u32::MAX - 9), 20);
        assert!(writes_behind(MAX_WRITES_BEHIND + 1, 0) > MAX_WRITES_BEHIND as i32);
    }
}
