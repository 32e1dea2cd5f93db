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

/// How long each phase runs: a warm-up, then `measure` in `rounds` equal slices. Between two
/// slices (and before the first and after the last) the load stops for a moment, so that the
/// limit a figure is read against can be measured on the same core at the same moments
/// ([`run`]'s `between`); each slice after the first starts with a short warm-up of its own.
#[derive(Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
    pub rounds: u32,
    pub rewarm: Duration,
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

/// Runs `workers` concurrently (one task each) and gives them back with the figures. With
/// `between`, the measured time is cut into `timing.rounds` slices and `between` runs before,
/// between and after them, the load stopped (every operation under way ended); without, the
/// phase runs in one go.
pub async fn run<W: Worker>(
    mut workers: Vec<W>,
    timing: Timing,
    mut between: Option<&mut dyn FnMut()>,
) -> (Stats, Vec<W>) {
    let rounds = if between.is_some() {
        timing.rounds.max(1)
    } else {
        1
    };
    let slice = timing.measure / rounds;
    let mut all = Vec::new();
    for round in 0..rounds {
        if let Some(b) = between.as_mut() {
            b();
        }
        let warmup = if round == 0 {
            timing.warmup
        } else {
            timing.rewarm
        };
        let (lat, back) = run_slice(workers, warmup, slice).await;
        workers = back;
        all.extend(lat);
    }
    if let Some(b) = between.as_mut() {
        b();
    }
    // Operations that started in the measured slices, over their time: those still running at
    // a slice's start (not counted) balance those running past its end (counted).
    let secs = slice.as_secs_f64() * f64::from(rounds);
    all.sort_unstable();
    let pick = |q: usize| all.get((all.len() * q / 100).min(all.len().saturating_sub(1)));
    let stats = Stats {
        ops: all.len(),
        per_sec: all.len() as f64 / secs,
        p50: pick(50).copied().unwrap_or_default(),
        p99: pick(99).copied().unwrap_or_default(),
    };
    // Under a wrapper (callgrind for `benches/link-order.sh`) a sign-in at 16 connections can
    // take longer than the phase: there an empty phase is no failure, the functions ran anyway.
    assert!(
        stats.ops > 0 || std::env::var_os("BENCH_SERVER_WRAPPER").is_some(),
        "a load phase completed no operation"
    );
    (stats, workers)
}

/// One slice: `workers` run for `warmup` and then `measure`; the latencies of the operations
/// that started in `measure`.
async fn run_slice<W: Worker>(
    workers: Vec<W>,
    warmup: Duration,
    measure: Duration,
) -> (Vec<Duration>, Vec<W>) {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measure;
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
    (all, back)
}
