//! `cargo bench`: measurements, not tests. Prints
//! - start-up: process start to the first 200 on discovery, with an existing and an empty data dir;
//! - idle RSS of the server process after start-up;
//! - JWKS requests per second over plain HTTP from 32 concurrent clients;
//! - `client_credentials` tokens per second, and the raw RS256 signing rate of the same kind of
//!   key in-process, so the ratio shows how close the endpoint is to its signing limit.
//!
//! Each loop is bounded in count and time, and talks to loopback only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> (Server, Instant) {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &std::path::Path, extra: &[&str]) -> (Server, Instant) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-mock"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--https-addr",
            "off",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .env("ENTRA_MOCK_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start entra-mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut base = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner");
        if let Some(url) = line.trim().strip_prefix("http:") {
            base = Some(url.trim().to_string());
            break;
        }
    }
    let base = base.expect("the banner names the HTTP listener");
    (Server { child, base }, started)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    {
        // First start creates keys, CA and the database: not what is measured.
        let (server, _) = start(dir.path());
        wait_ready(&client, &server.base).await;
    }

    let mut startup = Vec::new();
    let mut empty = Vec::new();
    for _ in 0..7 {
        let (server, started) = start(dir.path());
        wait_ready(&client, &server.base).await;
        startup.push(started.elapsed());
        // An empty data dir: what every --ephemeral CI start pays (keys, CA, schema, fixtures).
        let fresh = tempfile::tempdir().expect("tempdir");
        let (server, started) = start(fresh.path());
        wait_ready(&client, &server.base).await;
        empty.push(started.elapsed());
    }
    for (what, mut times) in [("existing data dir", startup), ("empty data dir", empty)] {
        times.sort();
        println!(
            "start-up to first discovery 200 ({what}): median {:?}, min {:?}, max {:?}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }

    let (server, _) = start(dir.path());
    wait_ready(&client, &server.base).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    match rss_kib(server.child.id()) {
        Some(kib) => println!("idle RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("idle RSS: unavailable (no /proc)"),
    }

    let url = format!("{}/{TENANT}/discovery/v2.0/keys", server.base);
    let rps = requests_per_second(&client, &url, 32, 20_000, Duration::from_secs(10)).await;
    println!("JWKS: {rps:.0} requests/s (32 concurrent clients, HTTP/1.1 keep-alive)");

    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", server.base);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "33334444-dddd-5555-eeee-6666ffff7777"),
        ("client_secret", "daemon-secret-local-dev-only"),
        (
            "scope",
            "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
        ),
    ];
    let tps = post_per_second(
        &client,
        &token_url,
        &form,
        32,
        20_000,
        Duration::from_secs(10),
    )
    .await;
    println!("client_credentials: {tps:.0} tokens/s (32 concurrent clients, request log on)");
    drop(server);

    // The same with the request log off: the log must cost nothing measurable.
    let (quiet, _) = start_with(dir.path(), &["--request-log", "off"]);
    wait_ready(&client, &quiet.base).await;
    let quiet_url = format!("{}/{TENANT}/oauth2/v2.0/token", quiet.base);
    let tps_off = post_per_second(
        &client,
        &quiet_url,
        &form,
        32,
        20_000,
        Duration::from_secs(10),
    )
    .await;
    drop(quiet);
    println!(
        "client_credentials: {tps_off:.0} tokens/s with the request log off (on/off: {:.0}%)",
        100.0 * tps / tps_off
    );

    let signs = raw_signing_rate().await;
    println!("raw RS256 signing, one core, key parsed once: {signs:.0} tokens/s");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "client_credentials / (raw signing x {cores} cores): {:.0}%",
        100.0 * tps / (signs * cores as f64)
    );
}

/// Like [`requests_per_second`], for form POSTs that must answer 200.
async fn post_per_second(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    concurrency: usize,
    total: usize,
    limit: Duration,
) -> f64 {
    let started = Instant::now();
    let per_task = total / concurrency;
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_string();
        let form = form.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while done < per_task && started.elapsed() < limit {
                let r = client.post(&url).form(&form).send().await.expect("request");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("body");
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.expect("task");
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// Signs a typical access-token payload in a loop for about two seconds on this thread.
async fn raw_signing_rate() -> f64 {
    entra_mock::keys::provider::install();
    let row = entra_mock::keys::generate(0).await.expect("key");
    let key = entra_mock::keys::SigningKey::from_row(&row).expect("parse");
    let claims = serde_json::json!({
        "aud": "22223333-cccc-4444-dddd-5555eeee6666",
        "iss": "https://localhost:8443/aaaabbbb-0000-cccc-1111-dddd2222eeee/v2.0",
        "iat": 1_700_000_000, "nbf": 1_700_000_000, "exp": 1_700_003_600,
        "oid": "a11ce000-0000-4000-8000-000000000001",
        "tid": "aaaabbbb-0000-cccc-1111-dddd2222eeee",
        "scp": "access_as_user", "ver": "2.0",
    });
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(2) && n < 100_000 {
        std::hint::black_box(key.sign(&claims, false).expect("sign"));
        n += 1;
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let url = format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration");
    for _ in 0..2000 {
        if let Ok(r) = client.get(&url).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("entra-mock did not become ready");
}

/// Sends at most `total` GETs from `concurrency` tasks, stopping after `limit`.
async fn requests_per_second(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    total: usize,
    limit: Duration,
) -> f64 {
    let started = Instant::now();
    let per_task = total / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while done < per_task && started.elapsed() < limit {
                let r = client.get(&url).send().await.expect("request");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("body");
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.expect("task");
    }
    done as f64 / started.elapsed().as_secs_f64()
}
