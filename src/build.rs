//! Build script: links the `entra-mock` binary as a position-dependent executable (`-no-pie`).
//!
//! A position-independent executable has its pointer tables (`.data.rel.ro`, about 0.7 MiB
//! here) rewritten by the dynamic loader at every start, which turns them into private memory
//! of each process; linked at a fixed address they stay pages of the file, shared and read only
//! as touched. Measured on an `--ephemeral` start: 0.7 MiB less anonymous memory (issue 12,
//! idle RSS). Address-space randomisation of the binary itself is what this gives up, which a
//! local test double does not need. Only the binaries: tests, benches and fuzz targets link as
//! the toolchain chooses.
fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
