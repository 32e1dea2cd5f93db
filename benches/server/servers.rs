//! Starting the servers under test (entra-mock's release binary and the two npm peers), pinned
//! with `taskset`, and reading what /proc says about them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::Conn;
use crate::TENANT;

/// Where a server listens and its paths.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub healthz: Option<String>,
    pub discovery: String,
    pub jwks: String,
    pub token: String,
    /// The `client_credentials` form this server takes.
    pub cc_form: String,
    /// The authorization endpoint (path) and the web app (a confidential client with PKCE)
    /// that signs in and refreshes there.
    pub authorize: String,
    pub web: WebApp,
    /// The peer this is, `None` for entra-mock: its refresh grants and sign-ins take the peer's
    /// own flows ([`crate::flows::PeerSignIn`]).
    pub peer: Option<Peer>,
}

/// A confidential client that signs users in: its id, secret and redirect URI.
#[derive(Clone, Copy)]
pub struct WebApp {
    pub client_id: &'static str,
    pub secret: &'static str,
    pub redirect_uri: &'static str,
}

/// The web app `benches/peers/` registers (oauth2-mock-server takes any).
const PEER_WEB: WebApp = WebApp {
    client_id: "bench-web",
    secret: "bench-web-secret",
    redirect_uri: "http://localhost/bench/callback",
};

impl Target {
    pub fn conn(&self) -> Conn {
        Conn::new(self.addr, &self.host)
    }
}

/// A running server; killed when dropped (asked to stop with SIGTERM first when it runs under
/// a wrapper, which writes its findings as the server exits).
pub struct Proc {
    child: Child,
    pub pid: u32,
    graceful: bool,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.graceful {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(120);
            while Instant::now() < until {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `BENCH_SERVER_WRAPPER`: a command entra-mock runs under (its words split on whitespace),
/// e.g. `valgrind --tool=callgrind` for `benches/link-order.sh`; empty when unset.
fn wrapper() -> Vec<String> {
    std::env::var("BENCH_SERVER_WRAPPER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// CPU pinning with `taskset`, when there is one and at least two cores.
#[derive(Clone, Copy)]
pub struct Pinning {
    pub on: bool,
}

impl Pinning {
    /// `program` prefixed with `taskset -c cores` when pinning is on.
    pub fn command(&self, cores: &str, program: &Path) -> Command {
        if self.on {
            let mut c = Command::new("taskset");
            c.args(["-c", cores]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Moves every thread of this process to `cores` (`taskset -a -p -c`); true when /proc
    /// confirms it.
    pub fn pin_self(&self, cores: &str) -> bool {
        if !self.on {
            return false;
        }
        let ok = Command::new("taskset")
            .args(["-a", "-p", "-c", cores])
            .arg(std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok && cpus_allowed(std::process::id()).as_deref() == Some(cores)
    }
}

/// Whether `taskset` runs here.
pub fn taskset_available() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `Cpus_allowed_list` of a process, e.g. `0` or `0-1`.
pub fn cpus_allowed(pid: u32) -> Option<String> {
    proc_status(pid, "Cpus_allowed_list:")
}

/// A `kB` field of /proc/PID/status (`VmRSS:`, `VmHWM:`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    proc_status(pid, field)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn proc_status(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    Some(line[field.len()..].trim().to_string())
}

/// Polls `path` until it answers 200; false after 15 s (300 s under a wrapper).
pub async fn wait_ready(addr: SocketAddr, host: &str, path: &str) -> bool {
    let wait = if wrapper().is_empty() { 15 } else { 300 };
    let until = Instant::now() + Duration::from_secs(wait);
    while Instant::now() < until {
        let mut c = Conn::new(addr, host);
        if let Ok(r) = c.get(path, &[]).await {
            if r.status == 200 {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// Starts entra-mock on `data_dir` pinned to `cores` and waits for discovery; the time is from
/// spawning the process to the first 200 on discovery.
pub async fn start_entra(
    pin: Pinning,
    cores: &str,
    data_dir: &Path,
    extra: &[&str],
) -> (Proc, Target, Duration) {
    let started = Instant::now();
    let binary = Path::new(env!("CARGO_BIN_EXE_entra-mock"));
    let wrapper = wrapper();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = pin.command(cores, Path::new(program));
            c.args(args).arg(binary);
            c
        }
        None => pin.command(cores, binary),
    };
    let mut child = command
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
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.expect("banner");
        if let Some(url) = line.trim().strip_prefix("http:") {
            base = Some(url.trim().to_string());
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let proc = Proc {
        child,
        pid,
        graceful: !wrapper.is_empty(),
    };
    let base = base.expect("the banner names the HTTP listener");
    let host = base.trim_start_matches("http://").to_string();
    let port: u16 = host
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the banner");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let discovery = format!("/{TENANT}/v2.0/.well-known/openid-configuration");
    assert!(
        wait_ready(addr, &host, &discovery).await,
        "entra-mock did not answer discovery within 15 s"
    );
    let elapsed = started.elapsed();
    let target = Target {
        addr,
        host,
        healthz: Some("/healthz".into()),
        discovery,
        jwks: format!("/{TENANT}/discovery/v2.0/keys"),
        token: format!("/{TENANT}/oauth2/v2.0/token"),
        authorize: format!("/{TENANT}/oauth2/v2.0/authorize"),
        web: WebApp {
            client_id: crate::BFF,
            secret: crate::BFF_SECRET,
            redirect_uri: crate::BFF_REDIRECT,
        },
        peer: None,
        cc_form: crate::http::form([
            ("grant_type", "client_credentials"),
            ("client_id", crate::DAEMON),
            ("client_secret", crate::DAEMON_SECRET),
            ("scope", crate::API_DEFAULT),
        ]),
    };
    (proc, target, elapsed)
}

/// The npm peers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    OidcProvider,
    OAuth2MockServer,
}

impl Peer {
    pub const ALL: [Peer; 2] = [Peer::OidcProvider, Peer::OAuth2MockServer];

    pub fn name(self) -> &'static str {
        match self {
            Peer::OidcProvider => "oidc-provider",
            Peer::OAuth2MockServer => "oauth2-mock-server",
        }
    }

    /// Its version, from its installed package.json.
    pub fn version(self, dir: &Path) -> String {
        let p = dir
            .join("node_modules")
            .join(self.name())
            .join("package.json");
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_else(|| "?".into())
    }
}

/// Copies benches/peers to `dir` and installs the pinned versions there (`npm ci`), unless the
/// same lock file is installed already. An error says why the peers cannot run.
pub fn install_peers(dir: &Path) -> Result<String, String> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node not found ({e})"))?;
    Command::new("npm")
        .arg("--version")
        .output()
        .map_err(|e| format!("npm not found ({e})"))?;
    let node_version = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for f in [
        "package.json",
        "package-lock.json",
        "oidc-provider.mjs",
        "oauth2-mock-server.mjs",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).map_err(|e| format!("copying {f}: {e}"))?;
    }
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap_or_default();
    let stamp = dir.join(".installed-lock.json");
    let installed = dir.join("node_modules/.package-lock.json").exists()
        && std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice());
    if !installed {
        println!("installing the peers: npm ci in {}", dir.display());
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .output()
            .map_err(|e| format!("npm ci: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            return Err(format!(
                "npm ci failed: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        let _ = std::fs::write(&stamp, &lock);
    }
    Ok(node_version)
}

/// A free loopback port (bound and released; the peer binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a peer pinned to `cores` and waits for its discovery; the time is from spawning the
/// process to the first 200 on discovery. Its output goes to `dir/<name>.log`; an error carries
/// its end.
pub async fn start_peer(
    pin: Pinning,
    cores: &str,
    dir: &Path,
    peer: Peer,
) -> Result<(Proc, Target, Duration), String> {
    let port = free_port();
    let log_path: PathBuf = dir.join(format!("{}.log", peer.name()));
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err_log = log.try_clone().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let child = pin
        .command(cores, Path::new("node"))
        .arg(dir.join(format!("{}.mjs", peer.name())))
        .arg(port.to_string())
        .current_dir(dir)
        .env("NODE_ENV", "production")
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(|e| format!("starting node: {e}"))?;
    let pid = child.id();
    let mut proc = Proc {
        child,
        pid,
        graceful: false,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let host = format!("localhost:{port}");
    let discovery = "/.well-known/openid-configuration".to_string();
    if !wait_ready(addr, &host, &discovery).await {
        let _ = proc.child.kill();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(3).collect();
        return Err(format!(
            "{} did not answer discovery within 15 s: {}",
            peer.name(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    let elapsed = started.elapsed();
    let cc_form = match peer {
        Peer::OidcProvider => crate::http::form([
            ("grant_type", "client_credentials"),
            ("client_id", "bench-daemon"),
            ("client_secret", "bench-daemon-secret"),
            ("scope", "api:read"),
        ]),
        Peer::OAuth2MockServer => crate::http::form([
            ("grant_type", "client_credentials"),
            ("client_id", "bench-daemon"),
            ("client_secret", "bench-daemon-secret"),
            ("scope", "api://bench-api/.default"),
        ]),
    };
    let target = Target {
        addr,
        host,
        healthz: None,
        discovery,
        jwks: "/jwks".into(),
        token: "/token".into(),
        cc_form,
        authorize: match peer {
            Peer::OidcProvider => "/auth".into(),
            Peer::OAuth2MockServer => "/authorize".into(),
        },
        web: PEER_WEB,
        peer: Some(peer),
    };
    Ok((proc, target, elapsed))
}

/// CPU time counters: every core's busy time (from /proc/stat, steal included: time the
/// hypervisor gave away) and the CPU time of the server and of this process, in clock ticks.
pub struct CpuSnap {
    at: Instant,
    busy: u64,
    server: u64,
    me: u64,
}

impl CpuSnap {
    pub fn take(server_pid: Option<u32>) -> CpuSnap {
        let busy = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("cpu "))?;
                let f: Vec<u64> = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse().ok())
                    .collect();
                // user nice system idle iowait irq softirq steal
                Some(f.iter().take(8).sum::<u64>() - f.get(3)? - f.get(4)?)
            })
            .unwrap_or(0);
        CpuSnap {
            at: Instant::now(),
            busy,
            server: server_pid.map_or(0, process_ticks),
            me: process_ticks(std::process::id()),
        }
    }

    /// The cores' worth of CPU that other processes used since `earlier`.
    pub fn others_since(&self, earlier: &CpuSnap, ticks_per_sec: f64) -> f64 {
        let (server, me) = self.ours_since(earlier, ticks_per_sec);
        let wall = (self.at - earlier.at).as_secs_f64() * ticks_per_sec;
        if wall <= 0.0 {
            return 0.0;
        }
        (self.busy.saturating_sub(earlier.busy) as f64 / wall - server - me).max(0.0)
    }

    /// The cores' worth of CPU the server and this process used since `earlier`.
    pub fn ours_since(&self, earlier: &CpuSnap, ticks_per_sec: f64) -> (f64, f64) {
        self.ours_since_less(earlier, ticks_per_sec, Duration::ZERO)
    }

    /// [`CpuSnap::ours_since`] with `aside` taken out of the time and of this process's CPU:
    /// the time this process spent busy on something else than the load (the signing limit's
    /// slices), the server idle meanwhile.
    pub fn ours_since_less(
        &self,
        earlier: &CpuSnap,
        ticks_per_sec: f64,
        aside: Duration,
    ) -> (f64, f64) {
        let aside = aside.as_secs_f64() * ticks_per_sec;
        let wall = (self.at - earlier.at).as_secs_f64() * ticks_per_sec - aside;
        if wall <= 0.0 {
            return (0.0, 0.0);
        }
        (
            self.server.saturating_sub(earlier.server) as f64 / wall,
            (self.me.saturating_sub(earlier.me) as f64 - aside).max(0.0) / wall,
        )
    }
}

/// utime + stime of a process (all its threads), in clock ticks.
fn process_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After the command: state is field 3, utime 14 and stime 15 (1-based).
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

/// Clock ticks per second of /proc (`getconf CLK_TCK`, 100 when unknown).
pub fn ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// How much of `src/link-order.txt` the binary under test was laid out by: the functions it
/// names that the binary's symbol table has (`nm`). Names carry hashes of the toolchain and of
/// each dependency's version, so after an update fewer match until `benches/link-order.sh`
/// runs again (idle RSS shows it).
pub fn link_order_note() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(order) = std::fs::read_to_string(root.join("src/link-order.txt")) else {
        return "link order: no src/link-order.txt".into();
    };
    let nm = Command::new("nm")
        .arg("--defined-only")
        .arg(env!("CARGO_BIN_EXE_entra-mock"))
        .output();
    let Some(nm) = nm.ok().filter(|o| o.status.success()) else {
        return "link order: not checked (`nm` did not run)".into();
    };
    let text = String::from_utf8_lossy(&nm.stdout);
    let symbols: std::collections::HashMap<&str, u64> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            Some((f.nth(1)?, addr))
        })
        .collect();
    let names: Vec<&str> = order.lines().filter(|l| !l.is_empty()).collect();
    let addrs: Vec<u64> = names
        .iter()
        .filter_map(|n| symbols.get(n).copied())
        .collect();
    // Laid out in the file's order: each function's address above the one before it.
    let ascending = addrs.windows(2).filter(|w| w[1] > w[0]).count();
    let in_order = addrs.len() > 1 && ascending * 10 >= (addrs.len() - 1) * 9;
    format!(
        "link order: {} of the {} functions `src/link-order.txt` names are in this binary, {} (the build script's `--symbol-ordering-file`; see Performance)",
        addrs.len(),
        names.len(),
        if in_order {
            "laid out in the file's order"
        } else {
            "not laid out in the file's order"
        }
    )
}
