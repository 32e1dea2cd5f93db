//! The OAuth 2.0 / OpenID Connect protocol as Entra speaks it. No actix types here.

pub mod admin_consent;
pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod client_info;
pub mod device_code;
pub mod discovery;
pub mod federation;
pub mod grants;
pub mod graph;
pub mod lifetimes;
pub mod logout;
pub mod managed_identity;
pub mod params;
pub mod revocation;
pub mod scope;
pub mod token;
pub mod user_realm;
pub mod userinfo;
pub mod v1;
