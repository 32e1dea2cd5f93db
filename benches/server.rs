//! `cargo bench --bench server`: measurements, not tests (nothing here asserts a figure; a wrong
//! answer from a server under load does panic, so a broken server cannot look fast).
//!
//! One run on this machine, the server pinned to core 0 and this load generator to core 1
//! (`taskset`), measures:
//! - cold start to the first 200 on discovery (empty and existing data dir), idle RSS and the
//!   peak RSS under load (`VmHWM`);
//! - requests/s and p50/p99 latency at 2 and 16 connections (each its own keep-alive HTTP/1.1
//!   connection with requests in sequence) for `/healthz`, JWKS, discovery,
//!   `client_credentials`, refresh grants (each connection redeeming its own latest, rotated
//!   refresh token) and complete interactive sign-ins (authorize, username, password, code,
//!   token), without and with TOTP;
//! - the in-process RS256 signing rate of the same key type on one core, the limit each token
//!   figure is shown against (tokens/s over signatures/s per token response);
//! - the token figures again with entra-mock on both cores;
//! - the same figures, where they offer them, for two peer mock servers installed from npm by
//!   the harness (`oidc-provider`, `oauth2-mock-server`; benches/peers/), pinned like entra-mock:
//!   all but `/healthz` and TOTP, their refresh grants and sign-ins through their own flows
//!   ([`flows::PeerSignIn`]).
//!
//! Each phase also records the CPU the server, the load generator and every other process on
//! the machine used (/proc); a phase disturbed by other processes runs again (up to twice) and
//! the report names the ones still disturbed, and those where the load generator was the limit.
//!
//! It prints a Markdown table ready for README.md (also written to `target/bench-report.md`)
//! and PASS/MISS lines for the targets. `BENCH_QUICK=1` runs each phase for about half a
//! second with one start-up sample (a smoke test for CI); otherwise each phase runs about 3 s.
//! `BENCH_ONLY=refresh,signin` runs just those entra-mock phases (see [`run_only`]); `mint` the
//! in-process cost of a token against its signature ([`measure::minting`]).

// The modules live in benches/server/ (a crate root's modules resolve beside it, hence the paths).
#[path = "server/flows.rs"]
mod flows;
#[path = "server/http.rs"]
mod http;
#[path = "server/load.rs"]
mod load;
#[path = "server/measure.rs"]
mod measure;
#[path = "server/report.rs"]
mod report;
#[path = "server/servers.rs"]
mod servers;
#[path = "server/ticker.rs"]
mod ticker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use load::{Stats, Timing};
use measure::{measure, measure_peer, minting, signing_rate, Signer};
use servers::{Peer, Pinning};

pub const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
pub const DAEMON: &str = "33334444-dddd-5555-eeee-6666ffff7777";
pub const DAEMON_SECRET: &str = "daemon-secret-local-dev-only";
pub const API_DEFAULT: &str = "api://22223333-cccc-4444-dddd-5555eeee6666/.default";
pub const BFF: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
pub const BFF_SECRET: &str = "bff-secret-local-dev-only";
pub const BFF_REDIRECT: &str = "http://localhost:5001/auth/callback";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const PASSWORD: &str = "Passw0rd!";

/// The server core and the load generator's core.
const SERVER_CORE: &str = "0";
const LOAD_CORE: &str = "1";
const BOTH_CORES: &str = "0,1";
/// A load generator busier than this (cores) may be what limits a phase.
const HARNESS_BOUND: f64 = 0.85;
/// Other processes using more than this many cores during a phase make it run again.
const OTHERS_RETRY: f64 = 0.1;

/// What a load phase does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    Healthz,
    Jwks,
    Discovery,
    ClientCredentials,
    Refresh,
    SignIn,
    SignInTotp,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Healthz,
        Kind::Jwks,
        Kind::Discovery,
        Kind::ClientCredentials,
        Kind::Refresh,
        Kind::SignIn,
        Kind::SignInTotp,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Healthz => "`/healthz`",
            Kind::Jwks => "JWKS",
            Kind::Discovery => "discovery",
            Kind::ClientCredentials => "`client_credentials` tokens",
            Kind::Refresh => "refresh grants",
            Kind::SignIn => "interactive sign-ins (password)",
            Kind::SignInTotp => "interactive sign-ins (password + TOTP)",
        }
    }

    /// The short name `BENCH_ONLY` takes.
    pub fn short(self) -> &'static str {
        match self {
            Kind::Healthz => "healthz",
            Kind::Jwks => "jwks",
            Kind::Discovery => "discovery",
            Kind::ClientCredentials => "cc",
            Kind::Refresh => "refresh",
            Kind::SignIn => "signin",
            Kind::SignInTotp => "totp",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Kind::Healthz | Kind::Jwks | Kind::Discovery => "requests/s",
            Kind::ClientCredentials | Kind::Refresh => "tokens/s",
            Kind::SignIn | Kind::SignInTotp => "sign-ins/s",
        }
    }

    /// Whether its answers are signed tokens (its limit is the signing rate).
    pub fn signs(self) -> bool {
        !matches!(self, Kind::Healthz | Kind::Jwks | Kind::Discovery)
    }
}

/// What one server (in one setting) measured.
#[derive(Default)]
pub struct Figures {
    pub start_empty: Vec<Duration>,
    pub start_existing: Vec<Duration>,
    pub idle_rss: Option<u64>,
    pub peak_rss: Option<u64>,
    pub stats: BTreeMap<(Kind, usize), Stats>,
    /// Signatures (JWTs) in each answer of a token phase, as observed.
    pub sigs: BTreeMap<Kind, u32>,
    /// Cores' worth of CPU other processes on the machine used during each phase.
    pub others: BTreeMap<(Kind, usize), f64>,
    /// Cores' worth of CPU the server and the load generator used during each phase.
    pub cpu: BTreeMap<(Kind, usize), (f64, f64)>,
    /// For each token phase, the in-process signing rate on core 0 measured in slices before,
    /// between and after its measured slices (the server idle meanwhile): its limit over the
    /// same moments, on a host whose speed drifts.
    pub limits: BTreeMap<(Kind, usize), f64>,
}

struct Cfg {
    quick: bool,
    timing: Timing,
    /// One slice of the signing limit, measured before, between and after the measured slices
    /// of each token phase ([`Timing`]).
    limit_slice: Duration,
    samples: usize,
    peer_samples: usize,
    idle: Duration,
    conns: [usize; 2],
    /// TOTP: how often the virtual clock moves one step, and how many users share the steps.
    tick: Duration,
    totp_users: usize,
    /// /proc clock ticks per second.
    hz: f64,
}

fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let cfg = Cfg {
        quick,
        timing: if quick {
            Timing {
                warmup: Duration::from_millis(200),
                measure: Duration::from_millis(500),
                rounds: 2,
                rewarm: Duration::from_millis(50),
            }
        } else {
            Timing {
                warmup: Duration::from_millis(500),
                measure: Duration::from_secs(3),
                rounds: 6,
                rewarm: Duration::from_millis(100),
            }
        },
        limit_slice: Duration::from_millis(if quick { 50 } else { 100 }),
        samples: if quick { 1 } else { 9 },
        peer_samples: if quick { 1 } else { 5 },
        idle: Duration::from_millis(if quick { 300 } else { 1000 }),
        conns: [2, 16],
        tick: Duration::from_millis(100),
        totp_users: 128,
        hz: servers::ticks_per_sec(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = servers::taskset_available();
    let mut pin = Pinning {
        on: taskset && cores >= 2,
    };
    let mut notes = Vec::new();
    // Before the runtime exists: every thread made later inherits core 1.
    if pin.on && !pin.pin_self(LOAD_CORE) {
        notes.push(
            "pinning this process with `taskset -a -p` failed: everything ran unpinned".to_string(),
        );
        pin.on = false;
    } else if !taskset {
        notes.push("`taskset` not found: everything ran unpinned".to_string());
    } else if cores < 2 {
        notes.push(format!("{cores} core: everything ran unpinned"));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(cfg, pin, cores, notes));
}

async fn run(cfg: Cfg, pin: Pinning, cores: usize, mut notes: Vec<String>) {
    let started = Instant::now();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let mut one = Figures::default();
    let mut pin_checks = Vec::new();
    if let Some(only) = std::env::var("BENCH_ONLY").ok().filter(|v| !v.is_empty()) {
        return run_only(&cfg, pin, &only).await;
    }

    // Cold start: the first start creates the database (not measured), then alternately an
    // existing data dir and an empty one (what every --ephemeral CI start pays).
    println!("entra-mock: start-up ({} samples each)", cfg.samples);
    let dir = tempfile::tempdir().expect("tempdir");
    drop(servers::start_entra(pin, SERVER_CORE, dir.path(), &[]).await);
    for _ in 0..cfg.samples {
        let (_p, _, t) = servers::start_entra(pin, SERVER_CORE, dir.path(), &[]).await;
        one.start_existing.push(t);
        let fresh = tempfile::tempdir().expect("tempdir");
        let (_p, _, t) = servers::start_entra(pin, SERVER_CORE, fresh.path(), &[]).await;
        one.start_empty.push(t);
    }

    // The signing limit, with no server running: this process moves to core 0 and back.
    let slices = if cfg.quick { 5 } else { 10 };
    let signer = Signer::new().await;
    let (signing, signing_pinned, signing_others) =
        signing_rate(&signer, pin, cfg.timing.measure, slices, cfg.hz);
    println!(
        "RS256 signing in-process: {signing:.0}/s ({}, best of {slices} slices; other processes: {signing_others:.2} core)",
        if signing_pinned { "core 0" } else { "unpinned" }
    );
    let mint = minting(pin, cfg.timing.measure).await;
    print_minting(&mint);

    // entra-mock on one core: every figure.
    let (proc, target, _) = servers::start_entra(pin, SERVER_CORE, dir.path(), &[]).await;
    pin_checks.push(format!(
        "entra-mock `Cpus_allowed_list` {}",
        servers::cpus_allowed(proc.pid).unwrap_or_else(|| "?".into())
    ));
    tokio::time::sleep(cfg.idle).await;
    one.idle_rss = servers::status_kib(proc.pid, "VmRSS:");
    println!("entra-mock on core 0: load phases");
    measure(
        &target,
        proc.pid,
        &Kind::ALL,
        &cfg,
        "entra-mock 1 core",
        &mut one,
        &mut notes,
        Some((&signer, pin)),
    )
    .await;
    drop(proc);

    // entra-mock on both cores: the token figures (a fresh data dir: new TOTP users).
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut two = Figures::default();
    let two_cores = pin.on;
    if two_cores {
        let (proc, target, _) = servers::start_entra(pin, BOTH_CORES, dir2.path(), &[]).await;
        println!("entra-mock on cores 0,1: token phases");
        let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.signs()).collect();
        measure(
            &target,
            proc.pid,
            &kinds,
            &cfg,
            "entra-mock 2 cores",
            &mut two,
            &mut notes,
            Some((&signer, pin)),
        )
        .await;
        drop(proc);
    }

    // The peers.
    let peer_dir = target_dir.join("bench-peers");
    let mut peers: Vec<Option<Figures>> = Vec::new();
    let mut peer_versions = String::new();
    match servers::install_peers(&peer_dir) {
        Ok(node) => {
            peer_versions = format!(
                "{} on node {node}",
                Peer::ALL
                    .iter()
                    .map(|p| format!("{} {}", p.name(), p.version(&peer_dir)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for peer in Peer::ALL {
                println!("{}: start-up and load phases", peer.name());
                match measure_peer(pin, &peer_dir, peer, &cfg, &mut pin_checks, &mut notes).await {
                    Ok(f) => peers.push(Some(f)),
                    Err(why) => {
                        println!("{} skipped: {why}", peer.name());
                        notes.push(format!("{} skipped: {why}", peer.name()));
                        peers.push(None);
                    }
                }
            }
        }
        Err(why) => {
            println!("peers skipped: {why}");
            notes.push(format!("peers skipped: {why}"));
            peers = vec![None, None];
        }
    }

    // The report.
    let command = if cfg.quick {
        "BENCH_QUICK=1 cargo bench --bench server"
    } else {
        "cargo bench --bench server"
    };
    let mut header = vec![
        format!("date: {}", date_utc()),
        format!("CPU: {} ({cores} cores)", cpu_model()),
        format!(
            "command: `{command}` ({} ms warm-up + {} ms measured per phase, {} start-up sample{}; whole run {:.0} s)",
            cfg.timing.warmup.as_millis(),
            cfg.timing.measure.as_millis(),
            cfg.samples,
            if cfg.samples == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        ),
    ];
    if pin.on {
        header.push(format!(
            "pinning (`taskset`): servers on core {SERVER_CORE}, the load generator on core {LOAD_CORE} (checked: {}; load generator `Cpus_allowed_list` {LOAD_CORE}); the in-process signing rate on core {SERVER_CORE}, at the start with no server running and in slices between those of each token phase with the server idle",
            pin_checks.join(", ")
        ));
        if two_cores {
            header.push(format!(
                "\"server on 2 cores\" rows: entra-mock on cores {BOTH_CORES}, sharing core {LOAD_CORE} with the load generator"
            ));
        }
    } else {
        header.push("pinning: none (see the notes)".into());
    }
    if !peer_versions.is_empty() {
        header.push(format!(
            "peers: {peer_versions} (installed by the harness from benches/peers/package-lock.json), pinned like entra-mock; they serve no `/healthz` and no TOTP; their refresh grants and sign-ins are their own flows (notes below)"
        ));
    }
    let mut busy: Vec<String> = Vec::new();
    let mut worst = signing_others;
    if signing_others > OTHERS_RETRY {
        busy.push(format!("the signing rate ({signing_others:.2})"));
    }
    let all = [
        ("1 core", Some(&one)),
        ("2 cores", two_cores.then_some(&two)),
    ];
    for (what, f) in all.iter().filter_map(|(w, f)| f.map(|f| (w, f))) {
        for ((kind, n), o) in &f.others {
            worst = worst.max(*o);
            if *o > OTHERS_RETRY {
                busy.push(format!(
                    "entra-mock {what} {} at {n} ({o:.2})",
                    kind.label()
                ));
            }
        }
    }
    for (peer, f) in Peer::ALL.iter().zip(&peers) {
        for ((kind, n), o) in f.iter().flat_map(|f| &f.others) {
            worst = worst.max(*o);
            if *o > OTHERS_RETRY {
                busy.push(format!("{} {} at {n} ({o:.2})", peer.name(), kind.label()));
            }
        }
    }
    let mut bound = Vec::new();
    let every = [
        ("entra-mock 1 core", Some(&one)),
        ("entra-mock 2 cores", two_cores.then_some(&two)),
    ]
    .into_iter()
    .chain(
        Peer::ALL
            .iter()
            .map(|p| p.name())
            .zip(peers.iter().map(Option::as_ref)),
    );
    for (what, f) in every {
        for ((kind, n), (server, load)) in f.iter().flat_map(|f| &f.cpu) {
            if *load >= HARNESS_BOUND {
                bound.push(format!(
                    "{what} {} at {n} (server {server:.2}, load generator {load:.2})",
                    kind.label()
                ));
            }
        }
    }
    if !bound.is_empty() {
        notes.push(format!(
            "the load generator used {HARNESS_BOUND} core or more (cores' worth of CPU over the phase, warm-up and set-up included), so these figures may be limits of the harness rather than of the server: {}",
            bound.join(", ")
        ));
    }
    header.push(format!(
        "other processes on the machine: at most {worst:.2} core during a measurement (/proc/stat less the server and the harness; a phase above {OTHERS_RETRY} core ran again, up to twice, and the quietest run counts)"
    ));
    if !busy.is_empty() {
        notes.push(format!(
            "disturbed by other processes (cores' worth in brackets), so low: {}",
            busy.join(", ")
        ));
    }
    header.push(servers::link_order_note());
    header.push("load: one current-thread tokio runtime; each connection is its own keep-alive HTTP/1.1 connection (a minimal raw client) sending requests in sequence; plain HTTP; every answer checked".into());
    notes.insert(0, "refresh grants: each connection redeems its own latest refresh token (they rotate), first minted for alice and the BFF by `POST /_mock/tokens`".into());
    notes.insert(1, format!(
        "interactive sign-ins: the BFF client (secret + PKCE), GET /authorize, POST username, POST password, (POST TOTP code), 302 with the code, POST /token; a new cookie jar per sign-in so no SSO session skips the pages; alice for password only; for TOTP {} users created through `POST /_mock/users` (each connection owns its share), and the harness moves the virtual clock one TOTP step every {} ms (`POST /_mock/clock`, never while a code is on its way), since a code is accepted once per step per user and only within one step of the clock",
        cfg.totp_users,
        cfg.tick.as_millis()
    ));
    notes.insert(2, format!(
        "the limit of a token phase (its \"of its limit\" and the two-core ratios) is the in-process signing rate on core {SERVER_CORE} over {} slices of {} ms taken before, between and after the phase's {} measured slices of {} ms (the load stopped and the server idle on its cores meanwhile; each later slice of load starts with {} ms of warm-up, not counted): all the signatures over all that time, because this host's speed moves by a third from one second to the next (`openssl speed -seconds 1 rsa2048`), so a limit and a phase measured at different moments do not compare; the \"limit\" row is the best of slices at the start of the run, with no server running",
        cfg.timing.rounds + 1,
        cfg.limit_slice.as_millis(),
        cfg.timing.rounds,
        (cfg.timing.measure / cfg.timing.rounds).as_millis(),
        cfg.timing.rewarm.as_millis(),
    ));
    notes.insert(3, "the peers' refresh grants and sign-ins: the web app `bench-web` (secret + PKCE) that `benches/peers/` registers, alice signing in; a sign-in is GET of its authorization endpoint (scope `openid offline_access api:read`, `prompt=consent`), its redirects followed and its pages' forms posted with a new cookie jar each time, then POST /token: oidc-provider shows its development login page (any name and password) and its consent page (8 HTTP requests in all, against entra-mock's 5), oauth2-mock-server no page (2 requests: its /authorize answers the code at once and takes no password); each refresh connection starts from its own sign-in's refresh token and redeems its latest one (oauth2-mock-server answers a new one and accepts any; oidc-provider answers the same one to a confidential client, so it writes no new token); both sign an ID token and a JWT access token, as entra-mock does".into());
    notes.insert(4, "ratios are entra-mock / peer: above 1 is better for per-second figures, below 1 for milliseconds and MiB".into());

    let r = report::Report {
        header,
        signing,
        minting: mint,
        one,
        two: two_cores.then_some(two),
        peers,
        peer_names: Peer::ALL.iter().map(|p| p.name()).collect(),
        conns: cfg.conns,
        notes,
    };
    let (md, targets) = r.render();
    println!("\n{md}");
    let _ = std::fs::create_dir_all(&target_dir);
    let path = target_dir.join("bench-report.md");
    match std::fs::write(&path, &md) {
        Ok(()) => println!("written to {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
    println!();
    for t in targets {
        println!("{t}");
    }
}

/// `BENCH_ONLY=refresh,signin` (names from [`Kind::short`]): just those phases of entra-mock,
/// on one core and then on two, with no start-up samples, peers or report; for working on one
/// figure (under `perf`, say).
async fn run_only(cfg: &Cfg, pin: Pinning, only: &str) {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| only.split(',').any(|o| o.trim() == k.short()))
        .collect();
    if only.split(',').any(|o| o.trim() == "mint") {
        print_minting(&minting(pin, cfg.timing.measure).await);
    }
    if kinds.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    let signer = Signer::new().await;
    for (cores, label) in [
        (SERVER_CORE, "entra-mock 1 core"),
        (BOTH_CORES, "entra-mock 2 cores"),
    ] {
        // A fresh data dir each, as in the full run: the TOTP phase creates its users.
        let dir = tempfile::tempdir().expect("tempdir");
        let (proc, target, _) = servers::start_entra(pin, cores, dir.path(), &[]).await;
        println!("server pid {}", proc.pid);
        let mut fig = Figures::default();
        // The limit around each token phase, as in the full run, so that a phase's figure
        // reads against the host's speed at that moment.
        let signer = (cores == SERVER_CORE).then_some((&signer, pin));
        measure(
            &target, proc.pid, &kinds, cfg, label, &mut fig, &mut notes, signer,
        )
        .await;
    }
    for n in notes {
        println!("{n}");
    }
}

fn print_minting(m: &measure::Minting) {
    println!(
        "tokens minted in-process (core 0, one of each in turn with a signature of the same key, {:.0}/s): `client_credentials` access token {:.0}/s ({:.3} signatures' time), delegated access token {:.0}/s ({:.3})",
        m.signing, m.app_only.0, m.app_only.1, m.delegated.0, m.delegated.1
    );
}

fn date_utc() -> String {
    Command::new("date")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}
