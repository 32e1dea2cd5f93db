//! The reference clients' shared library code (issue 10): token validation for resource APIs,
//! usable by our users' Rust APIs as `entra_mock::validate`.

pub mod validate;
