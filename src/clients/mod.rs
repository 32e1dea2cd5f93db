//! The reference clients (issue 10): the BFF (`entra-mock bff`), the SPA (`entra-mock spa`),
//! the resource API (`entra-mock api`) and their shared library
//! code, token validation for resource APIs, usable by our users' Rust APIs as
//! `entra_mock::validate`.

pub mod api;
pub mod bff;
pub mod browser_session;
pub mod demo;
pub mod spa;
pub mod validate;
