//! The reference clients (issue 10): the BFF (`entra-mock bff`), the SPA (`entra-mock spa`),
//! the resource API (`entra-mock api`) and their shared library
//! code, token validation for resource APIs, usable by our users' Rust APIs as
//! `entra_mock::validate`.

pub mod api;
pub mod bff;
pub mod browser_session;
pub mod demo;
pub mod mutation;
pub mod spa;
pub mod validate;

/// The authority the reference clients talk to: a flag group shared by `api`, `bff` and `spa`.
#[derive(Debug, Clone, clap::Args)]
pub struct Authority {
    /// Scheme and host of the authority (entra-mock's HTTPS listener, or
    /// https://login.microsoftonline.com).
    #[arg(
        long = "authority-host",
        env = "ENTRA_AUTHORITY_HOST",
        default_value = "https://localhost:8443"
    )]
    pub host: String,
    #[arg(
        long = "tenant-id",
        env = "ENTRA_TENANT_ID",
        default_value = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
    )]
    pub tenant_id: String,
}
