//! User-realm discovery, `GET /common/userrealm/{login}?api-version=1.0`: what MSAL asks before a
//! username/password (ROPC) sign-in, to learn whether the user's domain is managed by Entra or
//! federated to another identity provider (msal-python `authority.py`, `user_realm_discovery`;
//! MSAL.NET's `UserRealmDiscoveryResponse`). entra-mock's tenants are managed: a login in one of
//! their domains is `Managed`, any other `Unknown`.

use serde_json::{json, Value};

use crate::directory::Directory;

/// The audience and cloud Entra names in the answer (the public cloud's).
const CLOUD_AUDIENCE_URN: &str = "urn:federation:MicrosoftOnline";
const CLOUD_INSTANCE_NAME: &str = "microsoftonline.com";

/// The user-realm answer for `login` (a UPN, or a bare domain).
pub fn user_realm(directory: &Directory, login: &str) -> Value {
    let domain = login.rsplit('@').next().unwrap_or(login);
    match directory
        .tenants
        .iter()
        .find(|t| t.domain.eq_ignore_ascii_case(domain))
    {
        Some(tenant) => json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": tenant.domain,
            "cloud_instance_name": CLOUD_INSTANCE_NAME,
            "cloud_audience_urn": CLOUD_AUDIENCE_URN,
        }),
        None => json!({
            "ver": "1.0",
            "account_type": "Unknown",
            "cloud_instance_name": CLOUD_INSTANCE_NAME,
            "cloud_audience_urn": CLOUD_AUDIENCE_URN,
        }),
    }
}
