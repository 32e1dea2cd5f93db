//! The two signatures of one answer (an access token and an ID token: a code redeemed, a refresh
//! token used) made at once when a core has nothing to do, the second on a helper thread. A
//! signature is nearly all of a token's cost, so the answer comes in about the time of one
//! signature instead of two (issue 12: one client refreshing with the server on two cores, p50
//! 1.22-1.23 ms -> 0.89-0.94 ms a grant). That is the server of a test suite, which serves one
//! request at a time; under load ([`Helpers::core_free`]) both are signed in turn as before
//! (measured: the same figures at 2 and 16 connections, on one core and on two). Helpers run
//! only on idle cores ([`idle_priority`]), and the request's thread signs the second token
//! itself if no helper has taken it by the time the first is signed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, LazyLock, Mutex};

use anyhow::Context;

use super::Unsigned;

/// Signatures being made now, on all threads.
static IN_PROGRESS: AtomicUsize = AtomicUsize::new(0);

/// Requests being served now ([`Serving`]).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts a request in [`IN_FLIGHT`] while it is served (`startup`'s outermost middleware).
pub struct Serving(());

impl Serving {
    pub fn start() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        Serving(())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a signature in [`IN_PROGRESS`] while it is made.
pub(crate) struct Signing(());

impl Signing {
    pub(crate) fn start() -> Self {
        IN_PROGRESS.fetch_add(1, Ordering::Relaxed);
        #[cfg(test)]
        tests::SIGNED_HERE.with(|n| n.set(n.get() + 1));
        Signing(())
    }
}

impl Drop for Signing {
    fn drop(&mut self) {
        IN_PROGRESS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The process's helpers: one thread a core beyond the first (at most three), started at the
/// first pair of tokens; none on one core.
static HELPERS: LazyLock<Option<Helpers>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let helpers = cores.saturating_sub(1).min(3);
    if helpers == 0 {
        return None;
    }
    Helpers::start(helpers)
        .inspect_err(|e| tracing::warn!("signing in turn: no helper thread ({e})"))
        .ok()
});

/// Signs `first`, and `second` if any: both at once when a core is free, else in turn.
pub async fn sign_pair(
    first: Unsigned,
    second: Option<Unsigned>,
) -> anyhow::Result<(String, Option<String>)> {
    match (second, HELPERS.as_ref()) {
        (Some(second), Some(helpers)) if helpers.core_free() => {
            let (a, b) = helpers.sign_both(first, second).await?;
            Ok((a, Some(b)))
        }
        (second, _) => Ok((first.sign()?, second.map(Unsigned::sign).transpose()?)),
    }
}

/// A token for a helper to sign, unless the request's thread takes it back first.
struct Job {
    token: Arc<Mutex<Option<Unsigned>>>,
    answer: tokio::sync::oneshot::Sender<anyhow::Result<String>>,
}

/// Whoever takes the token out signs it: a helper, or the request's thread when no helper has
/// come to it by the time its own signature is done.
fn take(token: &Mutex<Option<Unsigned>>) -> Option<Unsigned> {
    match token.lock() {
        Ok(mut t) => t.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    }
}

/// Threads that sign what they are sent.
pub struct Helpers {
    jobs: mpsc::Sender<Job>,
    /// The cores the signatures share: the helpers' and the requests' thread.
    cores: usize,
}

impl std::fmt::Debug for Helpers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helpers")
            .field("cores", &self.cores)
            .finish()
    }
}

impl Helpers {
    /// Starts `count` helper threads; they end when the [`Helpers`] is dropped.
    pub fn start(count: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("signer-{i}"))
                .spawn(move || {
                    idle_priority();
                    serve(&queue);
                })?;
        }
        Ok(Helpers {
            jobs,
            cores: count + 1,
        })
    }
}

/// A helper's life: sign what comes until the [`Helpers`] is dropped.
fn serve(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // One helper waits for the next job while holding the queue, the others
        // for the queue.
        let next = match queue.lock() {
            Ok(q) => q.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = next else { return };
        if let Some(token) = take(&job.token) {
            // The request may have gone meanwhile: nobody to answer.
            let _ = job.answer.send(token.sign());
        }
    }
}

/// Helpers run at Linux's idle priority (`SCHED_IDLE`): only on a core that nothing else wants,
/// never preempting a request's thread, and free to move to whichever core falls idle (the
/// kernel never holds an idle-priority thread on a core for its cache). At normal priority a
/// helper woke on a core busy with another request's signature and took it over, while the
/// core of the request that sent it waited idle: refresh grants at 16 connections on two cores
/// ran about 10% slower than signing in turn.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` for the call's duration; pid 0 is this
        // thread. Lowering one's own priority needs no privilege; on failure it stays normal.
        let failed = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0;
        if failed {
            tracing::debug!(
                "signing helper at normal priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

impl Helpers {
    /// Whether a core has nothing to do: fewer requests are being served (this one included)
    /// and fewer signatures made than there are cores. A helper sent a token while another
    /// request was being served often started it on that request's core and was then held
    /// there by it (an idle-priority thread yields to any other), while this request's core
    /// waited idle for its answer: two-core refresh grants at 2 connections ran about 10%
    /// slower than signing in turn. So this is for the server that serves one request at a
    /// time, the usual one in a test suite.
    fn core_free(&self) -> bool {
        IN_FLIGHT.load(Ordering::Relaxed) < self.cores
            && IN_PROGRESS.load(Ordering::Relaxed) < self.cores
    }

    /// Signs `second` on a helper while this thread signs `first`; here too if no helper has
    /// taken it by then (every core busy), rather than leave this core idle. While a helper
    /// signs, this thread serves other requests.
    pub async fn sign_both(
        &self,
        first: Unsigned,
        second: Unsigned,
    ) -> anyhow::Result<(String, String)> {
        let token = Arc::new(Mutex::new(Some(second)));
        let (answer, signed) = tokio::sync::oneshot::channel();
        // Without helper threads the token stays here.
        let _ = self.jobs.send(Job {
            token: token.clone(),
            answer,
        });
        let first = first.sign()?;
        let second = match take(&token) {
            Some(second) => second.sign()?,
            None => signed
                .await
                .context("a signing helper thread ended before answering")??,
        };
        Ok((first, second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{FirstKeys, KeyRing};

    thread_local! {
        /// Signatures made on this thread.
        pub(super) static SIGNED_HERE: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    async fn active_key() -> Arc<crate::keys::SigningKey> {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        crate::keys::provider::install();
        let ring = KeyRing::load_or_create(&store, 1_700_000_000, FirstKeys::WellKnown)
            .await
            .unwrap();
        ring.snapshot().active.clone()
    }

    fn token(key: &Arc<crate::keys::SigningKey>, n: u32) -> Unsigned {
        Unsigned::new(key, &serde_json::json!({ "n": n, "sub": "s" }), false).unwrap()
    }

    #[tokio::test]
    async fn a_pair_signed_at_once_is_the_pair_signed_in_turn() {
        let key = active_key().await;
        let helpers = Helpers::start(1).unwrap();
        // RS256 (PKCS#1 v1.5) is deterministic: the same inputs give the same tokens.
        let (a, b) = helpers
            .sign_both(token(&key, 1), token(&key, 2))
            .await
            .unwrap();
        assert_eq!(a, token(&key, 1).sign().unwrap());
        assert_eq!(b, token(&key, 2).sign().unwrap());
        assert_ne!(a, b);
        let (first, second) = sign_pair(token(&key, 3), Some(token(&key, 4)))
            .await
            .unwrap();
        assert_eq!(first, token(&key, 3).sign().unwrap());
        assert_eq!(second, Some(token(&key, 4).sign().unwrap()));
        assert_eq!(
            sign_pair(token(&key, 5), None).await.unwrap(),
            (token(&key, 5).sign().unwrap(), None)
        );
    }

    #[tokio::test]
    async fn without_helper_threads_the_pair_is_signed_here() {
        let key = active_key().await;
        let signed_here = || SIGNED_HERE.with(std::cell::Cell::get);
        let none = Helpers::start(0).unwrap();
        let before = signed_here();
        let (a, b) = none
            .sign_both(token(&key, 8), token(&key, 9))
            .await
            .unwrap();
        assert_eq!(
            signed_here() - before,
            2,
            "both signatures made on this thread"
        );
        assert_eq!(a, token(&key, 8).sign().unwrap());
        assert_eq!(b, token(&key, 9).sign().unwrap());
    }

    #[tokio::test]
    async fn a_helper_signs_what_it_takes_and_leaves_what_was_taken_back() {
        let key = active_key().await;
        let (jobs, queue) = mpsc::channel();
        let kept = Arc::new(Mutex::new(Some(token(&key, 11))));
        let (answer, kept_signed) = tokio::sync::oneshot::channel();
        jobs.send(Job {
            token: kept.clone(),
            answer,
        })
        .unwrap();
        let taken_back = Arc::new(Mutex::new(Some(token(&key, 12))));
        let (answer, taken_back_signed) = tokio::sync::oneshot::channel();
        jobs.send(Job {
            token: taken_back.clone(),
            answer,
        })
        .unwrap();
        assert!(take(&taken_back).is_some());
        drop(jobs);
        // Serves the queue on this thread until it closes.
        serve(&Mutex::new(queue));
        assert!(take(&kept).is_none(), "the helper took the token");
        assert_eq!(
            kept_signed.await.unwrap().unwrap(),
            token(&key, 11).sign().unwrap()
        );
        assert!(
            taken_back_signed.await.is_err(),
            "no answer for a token taken back"
        );
    }

    #[tokio::test]
    async fn a_request_waits_for_the_token_a_helper_took() {
        let key = active_key().await;
        let signed_here = || SIGNED_HERE.with(std::cell::Cell::get);
        // A helper at normal priority, waiting: it takes a token as soon as it is sent, well
        // before this thread's own signature is done. Twenty tries, in case the machine is too
        // busy to run it in time once or twice.
        let (jobs, queue) = mpsc::channel();
        std::thread::spawn(move || serve(&Mutex::new(queue)));
        let helpers = Helpers { jobs, cores: 2 };
        let mut elsewhere = 0;
        for n in 0..20 {
            let before = signed_here();
            let (a, b) = helpers
                .sign_both(token(&key, 10), token(&key, n))
                .await
                .unwrap();
            let here = signed_here() - before;
            assert!(here == 1 || here == 2, "{here} signatures made here");
            elsewhere += 2 - here;
            assert_eq!(a, token(&key, 10).sign().unwrap());
            assert_eq!(b, token(&key, n).sign().unwrap());
        }
        assert!(elsewhere > 0, "no second token was signed by the helper");
    }
}
