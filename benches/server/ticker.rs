//! The TOTP phase's clock: a task that moves entra-mock's virtual clock one step at a time while
//! the sign-ins run, and the step it last set, shared with them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, RwLock};

use crate::flows::{fail, STEP_SECS};
use crate::http::Response;
use crate::servers::Target;

/// The TOTP step of entra-mock's virtual clock as the ticker last set it, and the gate that
/// keeps it still while one-time codes are on their way (held shared by each code submission,
/// exclusively by the ticker while it moves the clock).
#[derive(Clone)]
pub struct TotpClock {
    pub rx: watch::Receiver<i64>,
    pub gate: Arc<RwLock<()>>,
}

/// Moves entra-mock's virtual clock one TOTP step (30 s) every `every`, so each bench user can
/// use a new step over and over: a code is accepted once per step, and only within one step of
/// the clock. The only writer of the clock while it runs.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<u64>,
    clock: TotpClock,
}

impl Ticker {
    pub async fn start(target: &Target, every: Duration) -> Ticker {
        let mut conn = target.conn();
        let r = conn
            .get("/_mock/clock", &[])
            .await
            .expect("GET /_mock/clock");
        let (tx, rx) = watch::channel(clock_now(&r).div_euclid(STEP_SECS));
        let gate = Arc::new(RwLock::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, exclusive) = (stop.clone(), gate.clone());
        let handle = tokio::spawn(async move {
            let mut ticks = 0;
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(every).await;
                let _still = exclusive.write().await;
                let r = conn
                    .post_json("/_mock/clock", r#"{"advance": 30}"#)
                    .await
                    .expect("POST /_mock/clock");
                tx.send_replace(clock_now(&r).div_euclid(STEP_SECS));
                ticks += 1;
            }
            ticks
        });
        Ticker {
            stop,
            handle,
            clock: TotpClock { rx, gate },
        }
    }

    pub fn clock(&self) -> TotpClock {
        self.clock.clone()
    }

    /// Stops it; answers how many steps it moved.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.expect("the clock ticker")
    }
}

fn clock_now(r: &Response) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    match v["now"].as_i64() {
        Some(now) if r.status == 200 => now,
        _ => fail("/_mock/clock", r),
    }
}
