//! The Markdown report (header, one table row per figure, notes) and the PASS/MISS targets.

use std::time::Duration;

use crate::load::Stats;
use crate::{Figures, Kind};

pub struct Report {
    /// `- key: value` lines above the table.
    pub header: Vec<String>,
    /// Raw RS256 signatures per second on one core, in-process.
    pub signing: f64,
    /// Tokens minted in-process against signatures of the same key.
    pub minting: crate::measure::Minting,
    /// entra-mock on one core.
    pub one: Figures,
    /// entra-mock on two cores (token figures).
    pub two: Option<Figures>,
    /// The peers that ran, in table order; `None` when they were skipped.
    pub peers: Vec<Option<Figures>>,
    pub peer_names: Vec<&'static str>,
    pub conns: [usize; 2],
    pub notes: Vec<String>,
}

/// One comparison with a peer: which way is better.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

struct Row {
    figure: String,
    entra: String,
    limit: String,
    peers: Vec<String>,
    ratios: Vec<String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `v` cut (not rounded) to `decimals` places, for a figure set against a target: 89.97% of a
/// limit reads 89%, never the 90% it misses.
fn cut(v: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (v * m).floor() / m
}

pub fn median(v: &[Duration]) -> Option<Duration> {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied()
}

/// The signing limit of `kind` at `n` connections: signatures/s (as measured just before that
/// phase, else at the start of the run) over the signatures each answer carries.
fn limit(signing: f64, f: &Figures, kind: Kind, n: usize) -> Option<(f64, u32)> {
    let sigs = *f.sigs.get(&kind)?;
    let signing = f.limits.get(&(kind, n)).copied().unwrap_or(signing);
    (sigs > 0).then(|| (signing / f64::from(sigs), sigs))
}

impl Report {
    /// The Markdown text and the target lines.
    pub fn render(&self) -> (String, Vec<String>) {
        let mut rows = Vec::new();
        let mut ahead: Vec<(usize, usize, Vec<String>)> =
            vec![(0, 0, Vec::new()); self.peers.len()];
        let mut compare = |row: &mut Row, e: Option<f64>, p: &[Option<f64>], better: Better| {
            for (i, pv) in p.iter().enumerate() {
                let cell = match (e, pv) {
                    (Some(e), Some(pv)) if *pv > 0.0 => {
                        let wins = match better {
                            Better::Higher => e > *pv,
                            Better::Lower => e < *pv,
                        };
                        ahead[i].0 += usize::from(wins);
                        ahead[i].1 += 1;
                        if !wins {
                            ahead[i].2.push(row.figure.clone());
                        }
                        format!("{:.2}×", e / pv)
                    }
                    _ => "—".into(),
                };
                row.ratios.push(cell);
            }
        };
        let dash = || "—".to_string();
        let n_peers = self.peers.len();
        let peer_val = |f: &dyn Fn(&Figures) -> Option<f64>| -> Vec<Option<f64>> {
            self.peers.iter().map(|p| p.as_ref().and_then(f)).collect()
        };
        let fmt_opt = |v: &Option<f64>, digits: usize| match v {
            Some(x) => format!("{x:.digits$}"),
            None => dash(),
        };

        // Start-up and memory.
        let starts = self.one.start_empty.len();
        for (label, e, peers, better, digits) in [
            (
                format!("cold start to first discovery 200, empty data dir (ms, median of {starts}; peers keep no data)"),
                median(&self.one.start_empty).map(ms),
                peer_val(&|f| median(&f.start_empty).map(ms)),
                Better::Lower,
                1,
            ),
            (
                format!("cold start to first discovery 200, existing data dir (ms, median of {starts})"),
                median(&self.one.start_existing).map(ms),
                vec![None; n_peers],
                Better::Lower,
                1,
            ),
            (
                "idle RSS (MiB)".to_string(),
                self.one.idle_rss.map(mib),
                peer_val(&|f| f.idle_rss.map(mib)),
                Better::Lower,
                1,
            ),
            (
                "peak RSS under load (MiB, VmHWM after the load phases)".to_string(),
                self.one.peak_rss.map(mib),
                peer_val(&|f| f.peak_rss.map(mib)),
                Better::Lower,
                1,
            ),
        ] {
            let mut row = Row {
                figure: label,
                entra: fmt_opt(&e, digits),
                limit: dash(),
                peers: peers.iter().map(|p| fmt_opt(p, digits)).collect(),
                ratios: Vec::new(),
            };
            compare(&mut row, e, &peers, better);
            rows.push(row);
        }
        rows.push(Row {
            figure: "RS256 signing in-process, one core (signatures/s): the limit".into(),
            entra: rate(self.signing),
            limit: "100%".into(),
            peers: vec![dash(); n_peers],
            ratios: vec![dash(); n_peers],
        });
        let m = &self.minting;
        for (what, (per_sec, cost)) in [
            (
                "a `client_credentials` access token (its scope resolved, claims, JSON, signature)",
                m.app_only,
            ),
            (
                "a delegated access token (claims, JSON, signature)",
                m.delegated,
            ),
        ] {
            rows.push(Row {
                figure: format!("{what} minted in-process, one core (tokens/s)"),
                entra: rate(per_sec),
                limit: format!(
                    "{cost:.3} signatures' time ({:.0} signatures/s in the same slices)",
                    m.signing
                ),
                peers: vec![dash(); n_peers],
                ratios: vec![dash(); n_peers],
            });
        }

        // Load phases, server on one core.
        for kind in Kind::ALL {
            for n in self.conns {
                let Some(s) = self.one.stats.get(&(kind, n)) else {
                    continue;
                };
                let limit_cell = match kind {
                    Kind::Jwks | Kind::Discovery => self
                        .one
                        .stats
                        .get(&(Kind::Healthz, n))
                        .map(|h| {
                            format!("{:.0}% of /healthz", cut(100.0 * s.per_sec / h.per_sec, 0))
                        })
                        .unwrap_or_else(dash),
                    k if k.signs() => match limit(self.signing, &self.one, k, n) {
                        Some((l, sigs)) => format!(
                            "{:.0}% of {} ({sigs} signature{} each)",
                            cut(100.0 * s.per_sec / l, 0),
                            rate(l),
                            if sigs == 1 { "" } else { "s" }
                        ),
                        None => dash(),
                    },
                    _ => dash(),
                };
                let pstats: Vec<Option<Stats>> = self
                    .peers
                    .iter()
                    .map(|p| p.as_ref().and_then(|f| f.stats.get(&(kind, n)).copied()))
                    .collect();
                let figure = format!("{}, {n} connections ({})", kind.label(), kind.unit());
                let pv: Vec<Option<f64>> = pstats.iter().map(|p| p.map(|s| s.per_sec)).collect();
                let mut row = Row {
                    figure,
                    entra: rate(s.per_sec),
                    limit: limit_cell,
                    peers: pv
                        .iter()
                        .map(|p| p.map(rate).unwrap_or_else(dash))
                        .collect(),
                    ratios: Vec::new(),
                };
                compare(&mut row, Some(s.per_sec), &pv, Better::Higher);
                rows.push(row);

                // Latency: p50 and p99 compared separately, shown in one row.
                let figure = format!("{}, {n} connections: p50 / p99 (ms)", kind.label());
                let p50: Vec<Option<f64>> = pstats.iter().map(|p| p.map(|s| s.p50_ms())).collect();
                let p99: Vec<Option<f64>> = pstats.iter().map(|p| p.map(|s| s.p99_ms())).collect();
                let mut r50 = Row {
                    figure: format!("{}, {n} connections: p50 latency", kind.label()),
                    entra: String::new(),
                    limit: String::new(),
                    peers: Vec::new(),
                    ratios: Vec::new(),
                };
                let mut r99 = Row {
                    figure: format!("{}, {n} connections: p99 latency", kind.label()),
                    entra: String::new(),
                    limit: String::new(),
                    peers: Vec::new(),
                    ratios: Vec::new(),
                };
                compare(&mut r50, Some(s.p50_ms()), &p50, Better::Lower);
                compare(&mut r99, Some(s.p99_ms()), &p99, Better::Lower);
                rows.push(Row {
                    figure,
                    entra: format!("{:.2} / {:.2}", s.p50_ms(), s.p99_ms()),
                    limit: dash(),
                    peers: pstats
                        .iter()
                        .map(|p| match p {
                            Some(s) => format!("{:.2} / {:.2}", s.p50_ms(), s.p99_ms()),
                            None => dash(),
                        })
                        .collect(),
                    ratios: r50
                        .ratios
                        .iter()
                        .zip(&r99.ratios)
                        .map(|(a, b)| {
                            if a == "—" {
                                a.clone()
                            } else {
                                format!("{a} / {b}")
                            }
                        })
                        .collect(),
                });
            }
        }

        // Token figures with the server on two cores.
        if let Some(two) = &self.two {
            for kind in Kind::ALL.into_iter().filter(|k| k.signs()) {
                for n in self.conns {
                    let Some(s) = two.stats.get(&(kind, n)) else {
                        continue;
                    };
                    let one = self.one.stats.get(&(kind, n)).map(|o| o.per_sec);
                    let lim = limit(self.signing, two, kind, n).map(|(l, _)| l);
                    let mut cell = Vec::new();
                    if let Some(o) = one {
                        cell.push(format!("{:.2}× one core", s.per_sec / o));
                    }
                    if let Some(l) = lim {
                        cell.push(format!("{:.2}× the one-core limit", cut(s.per_sec / l, 2)));
                    }
                    if let Some((server, _)) = two.cpu.get(&(kind, n)) {
                        cell.push(format!("server CPU {server:.2} cores"));
                    }
                    rows.push(Row {
                        figure: format!(
                            "{}, {n} connections, server on 2 cores ({}; p50 / p99 {:.2} / {:.2} ms)",
                            kind.label(),
                            kind.unit(),
                            s.p50_ms(),
                            s.p99_ms()
                        ),
                        entra: rate(s.per_sec),
                        limit: cell.join("; "),
                        peers: vec![dash(); n_peers],
                        ratios: vec![dash(); n_peers],
                    });
                }
            }
        }

        // The table.
        let mut md = String::new();
        for h in &self.header {
            md.push_str(&format!("- {h}\n"));
        }
        md.push('\n');
        md.push_str("| figure | entra-mock | of its limit |");
        for p in &self.peer_names {
            md.push_str(&format!(" {p} |"));
        }
        for p in &self.peer_names {
            md.push_str(&format!(" entra-mock / {p} |"));
        }
        md.push_str("\n|---|---:|---|");
        for _ in 0..2 * n_peers {
            md.push_str("---:|");
        }
        md.push('\n');
        for r in &rows {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.figure,
                r.entra,
                r.limit,
                r.peers.join(" | "),
                r.ratios.join(" | ")
            ));
        }
        md.push('\n');
        for n in &self.notes {
            md.push_str(&format!("- {n}\n"));
        }

        // The targets.
        let mut targets = Vec::new();
        let check = |targets: &mut Vec<String>, ok: bool, text: String| {
            targets.push(format!("{} {text}", if ok { "PASS" } else { "MISS" }));
        };
        for kind in [Kind::ClientCredentials, Kind::Refresh] {
            for n in self.conns {
                if let (Some(s), Some((l, _))) = (
                    self.one.stats.get(&(kind, n)),
                    limit(self.signing, &self.one, kind, n),
                ) {
                    let f = s.per_sec / l;
                    check(
                        &mut targets,
                        f >= 0.9,
                        format!(
                            "{}, {n} connections, one core: {:.0}% of the signing limit (target ≥ 90%)",
                            kind.label(),
                            cut(100.0 * f, 0)
                        ),
                    );
                }
                if let (Some(two), Some((l, _))) = (
                    &self.two,
                    self.two
                        .as_ref()
                        .and_then(|t| limit(self.signing, t, kind, n)),
                ) {
                    if let Some(s) = two.stats.get(&(kind, n)) {
                        let f = s.per_sec / l;
                        check(
                            &mut targets,
                            f >= 1.7,
                            format!(
                                "{}, {n} connections, two cores: {:.2}× the one-core signing limit (target ≥ 1.7×)",
                                kind.label(),
                                cut(f, 2)
                            ),
                        );
                    }
                }
            }
        }
        for kind in [Kind::SignIn, Kind::SignInTotp] {
            for n in self.conns {
                if let (Some(s), Some((l, sigs))) = (
                    self.one.stats.get(&(kind, n)),
                    limit(self.signing, &self.one, kind, n),
                ) {
                    let f = s.per_sec / l;
                    check(
                        &mut targets,
                        f >= 0.7,
                        format!(
                            "{}, {n} connections, one core: {:.0}% of the limit its {sigs} signatures set (target ≥ 70%)",
                            kind.label(),
                            cut(100.0 * f, 0)
                        ),
                    );
                }
            }
        }
        for kind in [Kind::Jwks, Kind::Discovery] {
            for n in self.conns {
                if let (Some(s), Some(h)) = (
                    self.one.stats.get(&(kind, n)),
                    self.one.stats.get(&(Kind::Healthz, n)),
                ) {
                    let f = s.per_sec / h.per_sec;
                    check(
                        &mut targets,
                        f >= 0.7,
                        format!(
                            "{}, {n} connections: {:.0}% of /healthz (target ≥ 70%)",
                            kind.label(),
                            cut(100.0 * f, 0)
                        ),
                    );
                }
            }
        }
        if let Some(kib) = self.one.idle_rss {
            check(
                &mut targets,
                mib(kib) <= 16.0,
                format!("idle RSS {:.2} MiB (target ≤ 16 MiB)", mib(kib)),
            );
        }
        if let Some(kib) = self.one.peak_rss {
            check(
                &mut targets,
                mib(kib) <= 32.0,
                format!("peak RSS under load {:.2} MiB (target ≤ 32 MiB)", mib(kib)),
            );
        }
        for (i, name) in self.peer_names.iter().enumerate() {
            let (wins, total, behind) = &ahead[i];
            if self.peers[i].is_none() || *total == 0 {
                targets.push(format!("SKIP ahead of {name}: not measured"));
                continue;
            }
            let mut text = format!("ahead of {name} on {wins} of {total} figures");
            if !behind.is_empty() {
                text.push_str(&format!("; behind on: {}", behind.join("; ")));
            }
            check(&mut targets, wins == total, text);
        }
        md.push_str("\nTargets (measured, not asserted):\n\n");
        for t in &targets {
            md.push_str(&format!("- {t}\n"));
        }
        (md, targets)
    }
}
