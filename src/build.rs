//! Build script: how the `entra-mock` binary is linked (issue 12, idle RSS).
//!
//! - As a position-dependent executable (`-no-pie`). A position-independent executable has its
//!   pointer tables (`.data.rel.ro`, about 0.7 MiB here) rewritten by the dynamic loader at every
//!   start, which turns them into private memory of each process; linked at a fixed address they
//!   stay pages of the file, shared and read only as touched. Measured on an `--ephemeral` start:
//!   0.7 MiB less anonymous memory. Address-space randomisation of the binary itself is what this
//!   gives up, which a local test double does not need.
//! - With the functions a start and the request paths run laid out first, in that order
//!   (`src/link-order.txt`, made by `benches/link-order.sh`; lld's `--symbol-ordering-file`).
//!   The kernel maps the code of a binary in blocks of 64 KiB around each page a process
//!   touches (fault-around), so the ~4,000 functions a start runs, scattered over a 16 MiB text
//!   segment, kept about 11 MiB of it resident; laid out together, about 4 MiB. Symbols the
//!   file names that this build does not have (another toolchain or dependency version mangles
//!   names differently) are skipped: the layout then falls back to the linker's own.
//!
//! Only the binaries: tests, benches and fuzz targets link as the toolchain chooses. The
//! ordering only where the toolchain links with its own lld (x86_64 Linux with glibc, Rust 1.90
//! and later) and no other linker is configured.
use std::path::Path;
use std::process::Command;

const ORDER_FILE: &str = "src/link-order.txt";
/// Environment variables that choose another linker for this target.
const LINKER_VARS: [&str; 2] = [
    "RUSTC_LINKER",
    "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
];

fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    // `sqlx::migrate!` embeds the migrations when the crate is compiled, but cargo sees only
    // the files it read: a new migration would not rebuild the crate without this (sqlx's
    // `migrate!` documentation).
    println!("cargo:rerun-if-changed=migrations");
    for var in LINKER_VARS {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || env != "gnu" {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    if links_with_rust_lld() {
        let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let order = Path::new(&manifest).join(ORDER_FILE);
        if order.is_file() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
                order.display()
            );
        }
    }
}

/// Whether rustc links this target with its bundled lld: x86_64 Linux with glibc since Rust
/// 1.90, unless a linker or linker flavour is chosen by configuration.
fn links_with_rust_lld() -> bool {
    if std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default() != "x86_64" {
        return false;
    }
    let configured = LINKER_VARS
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if configured
        || flags.contains("linker")
        || flags.contains("link-self-contained")
        || flags.contains("fuse-ld")
    {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.strip_prefix("1."))
        .and_then(|v| v.split('.').next())
        .and_then(|minor| minor.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
