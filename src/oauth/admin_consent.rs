//! The admin-consent endpoints, `GET /{tenant}/v2.0/adminconsent` and v1's
//! `GET /{tenant}/adminconsent` (<https://learn.microsoft.com/entra/identity-platform/v2-admin-consent>):
//! `client_id`, `redirect_uri` (required, registered), `scope`, `state`. A user of the tenant signs
//! in (entra-mock models no directory roles: any user may act as the admin), sees the permissions
//! on behalf of the organization, and accepting grants them to the app for everyone; the reply is
//! `admin_consent=True&tenant=...&scope=...&state=...`, or `admin_consent=True&error=consent_required`
//! (AADSTS65004) when declined.

use crate::directory::{Directory, ResolvedTenant};
use crate::error::Error;
use crate::oauth::authorize::{self, AuthorizeRequest, Consent, Rejection};
use crate::oauth::grants::scopes::required_permissions;
use crate::oauth::params::Endpoint;

/// Validates an admin-consent request and turns it into the sign-in request that asks for it.
/// v1's endpoint takes no `scope`: it asks for the permissions the app registers
/// (`requiredResourceAccess`; v2-admin-consent: a static `.default` scope "will function like the
/// v1.0 admin consent endpoint and request consent for all scopes found in the required
/// permissions for the app"). An app that registers none still needs `scope` there.
pub fn request(
    directory: &Directory,
    tenant: &ResolvedTenant,
    params: &[(String, String)],
    endpoint: Endpoint,
) -> Result<AuthorizeRequest, Rejection> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty())
    };
    if get("redirect_uri").is_none() {
        return Err(Rejection::Page(Error::MissingParameter("redirect_uri")));
    }
    let mut forwarded: Vec<(String, String)> = ["client_id", "redirect_uri", "scope", "state"]
        .into_iter()
        .filter_map(|k| get(k).map(|v| (k.to_string(), v)))
        .collect();
    if endpoint == Endpoint::V1 && get("scope").is_none() {
        let app = get("client_id").and_then(|id| {
            directory
                .applications
                .values()
                .find(|a| a.client_id.eq_ignore_ascii_case(&id))
        });
        let required: Vec<String> = app
            .map(|a| required_permissions(directory, a))
            .unwrap_or_default()
            .into_iter()
            .map(|(_, alone)| alone)
            .collect();
        if !required.is_empty() {
            forwarded.push(("scope".into(), required.join(" ")));
        }
    }
    forwarded.push(("response_type".into(), "code".into()));
    let mut req = authorize::parse(directory, tenant, &forwarded, Endpoint::V2)?;
    req.consent = Consent::Admin;
    Ok(req)
}
