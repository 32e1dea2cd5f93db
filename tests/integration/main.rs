//! entra-mock's integration tests: one binary, each test spawning its own server on port 0 with
//! its own data dir and SQLite file, talked to over real HTTP and TLS.

mod fixture_builder;
mod helpers;
mod implicit;
mod log_capture;
mod mock_api;
mod mock_directory;
mod mock_faults;
mod mock_keys;
mod mock_requests;
mod mock_tokens;
mod signin_helpers;
mod token_helpers;

mod architecture;
mod battery;
mod claims;
mod client_capabilities;
mod concurrency;
mod conformance;
mod crash_restart;
mod device_code;
mod e2e;
mod entra_markup;
mod foundation;
mod fuzz_targets;
mod growth;
mod hardening;
mod limits;
mod managed_identity;
mod reference_api;
mod reference_bff;
mod reference_spa;
mod signin;
mod signin_hints;
mod signin_mfa;
mod signin_sso;
mod silent_sso;
mod tokens;
mod tokens_errors;
mod tokens_logout;
mod tokens_obo;
mod tokens_refresh;
mod tokens_ropc;
mod v1;
mod validator;
