//! entra-mock: an offline stand-in for Microsoft Entra ID for local development and CI.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod amr;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod context;
pub mod crypto;
pub mod ctl;
pub mod directory;
pub mod error;
pub mod fixtures;
pub mod flows;
pub mod fuzzing;
pub mod keys;
pub mod mock;
pub mod oauth;
pub mod open_files;
pub mod pkce;
pub mod render_cache;
pub mod routes;
pub mod secret;
pub mod signin;
pub mod startup;
pub mod state;
pub mod store;
pub mod testing;
pub mod tls;

pub use clients::validate;
pub use testing::TestServer;
