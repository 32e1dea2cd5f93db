//! The OAuth 2.0 / OpenID Connect protocol as Entra speaks it. No actix types here.

pub mod authorize;
pub mod discovery;
