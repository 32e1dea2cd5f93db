//! The load phases: N connections, each its own task running one operation after another (a
//! request, or a whole sign-in) for a warm-up and then a measured time; operations per second
//! over the measured time and the p50/p99 latency of the operations that started in it.

use std::future::Future;
use std::time::{Duration, Instant};

/// One connection's work: one operation per call. It must check every answer and panic on a
/// wrong one, so a broken server cannot produce good-looking numbers.
pub trait Worker: Send + 'static {
    fn op(&mut self) -> impl Future<Output = ()> + Send;
}

/// How long each phase runs.
#[derive(Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub ops: usize,
    pub per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Stats {
    pub fn p50_ms(&self) -> f64 {
        self.p50.as_secs_f64() * 1000.0
    }
    pub fn p99_ms(&self) -> f64 {
        self.p99.as_secs_f64() * 1000.0
    }
}

/// Runs `workers` concurrently (one task each) and gives them back with the figures.
pub async fn run<W: Worker>(workers: Vec<W>, timing: Timing) -> (Stats, Vec<W>) {
    let start = Instant::now();
    let measure_from = start + timing.warmup;
    let end = measure_from + timing.measure;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(8192);
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    w.op().await;
                    if t0 >= measure_from {
                        lat.push(t0.elapsed());
                    }
                }
                (w, lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut back = Vec::new();
    for t in tasks {
        let (w, lat) = t.await.expect("a load task failed (see the panic above)");
        back.push(w);
        all.extend(lat);
    }
    // Operations that started in the measured window, over the window: those still running at
    // its start (not counted) balance those running past its end (counted).
    let secs = timing.measure.as_secs_f64();
    all.sort_unstable();
    let pick = |q: usize| all.get((all.len() * q / 100).min(all.len().saturating_sub(1)));
    let stats = Stats {
        ops: all.len(),
        per_sec: all.len() as f64 / secs,
        p50: pick(50).copied().unwrap_or_default(),
        p99: pick(99).copied().unwrap_or_default(),
    };
    assert!(stats.ops > 0, "a load phase completed no operation");
    (stats, back)
}
