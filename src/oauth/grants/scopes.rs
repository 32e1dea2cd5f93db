//! Scopes of a token request, resolved as Entra does
//! (<https://learn.microsoft.com/entra/identity-platform/scopes-oidc>): OpenID scopes, then the
//! scopes of exactly one resource (AADSTS28000 for more), each exposed by the resource
//! (AADSTS70011) and consented for the client (AADSTS65001). `{resource}/.default` stands for every
//! consented scope. With OpenID scopes only, Entra returns a token for Microsoft Graph.

use crate::directory::{Application, Directory};
use crate::error::{Error, Result};
use crate::oauth::claims::Target;
pub use crate::oauth::scope::OidcScopes;
use crate::oauth::scope::{self, find_resource, Resource};
pub use crate::store::consents::Grant;
use crate::store::Store;

/// Graph's delegated permission every app has by default.
const GRAPH_USER_READ: &str = "User.Read";

/// The scopes of a delegated request, resolved.
#[derive(Debug, Clone)]
pub struct Delegated {
    pub oidc: OidcScopes,
    pub target: Target,
    /// `scp` values.
    pub values: Vec<String>,
    /// The response's `scope`: the granted resource scopes as the client named them.
    pub granted: String,
}

/// Microsoft Graph's application id: the resource of Graph scopes in consent grants.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// [`delegated`] for a user: what the client is pre-authorized or admin-consented for, and what
/// this user consented to (`store::consents`). The store is asked only when the directory's
/// tenant-wide consent does not cover the request, so a pre-authorized client's grants cost no
/// query.
pub async fn delegated_for(
    store: &Store,
    directory: &Directory,
    client: &Application,
    user_oid: &str,
    scope: &str,
) -> Result<Delegated> {
    match delegated(directory, client, scope) {
        Err(Error::ConsentRequired { .. }) => {
            let grants = store.consent_grants(&client.client_id, user_oid).await?;
            if grants.is_empty() {
                return delegated(directory, client, scope);
            }
            delegated(directory, &with_grants(client, &grants), scope)
        }
        other => other,
    }
}

/// The client as if `grants` were pre-authorized.
fn with_grants(client: &Application, grants: &[Grant]) -> Application {
    let mut app = client.clone();
    for g in grants {
        if g.resource_client_id == GRAPH_APP_ID {
            if !app.graph_permissions.delegated.contains(&g.scope) {
                app.graph_permissions.delegated.push(g.scope.clone());
            }
        } else {
            let values = app
                .consents
                .entry(g.resource_client_id.clone())
                .or_default();
            if !values.contains(&g.scope) {
                values.push(g.scope.clone());
            }
        }
    }
    app
}

/// The resource scopes of a request a user could consent to, each with the scope string that
/// names it alone (`{prefix}/{value}`): `.default`, `User.Read` and the OpenID scopes need none.
pub fn consentable(directory: &Directory, scope: &str) -> Result<Vec<(Grant, String)>> {
    let parsed = scope::parse(directory, scope)?;
    Ok(parsed
        .resource_scopes
        .into_iter()
        .filter(|s| s.value != ".default" && !s.value.eq_ignore_ascii_case(GRAPH_USER_READ))
        .map(|s| {
            let alone = format!("{}/{}", s.prefix, s.value);
            let grant = Grant {
                resource_client_id: match &s.resource {
                    Resource::Graph => GRAPH_APP_ID.to_string(),
                    Resource::Api(api) => api.client_id.clone(),
                },
                scope: s.value,
            };
            (grant, alone)
        })
        .collect())
}

/// What of `scope` the client does not hold for the user yet: each consentable scope checked on
/// its own (an authorization request may name several resources), the user's grants read once
/// and only if the tenant-wide consent leaves a scope uncovered.
pub async fn unconsented(
    store: &Store,
    directory: &Directory,
    client: &Application,
    user_oid: &str,
    scope: &str,
) -> Result<Vec<(Grant, String)>> {
    let mut with_user: Option<Application> = None;
    let mut missing = Vec::new();
    for (g, alone) in consentable(directory, scope)? {
        match delegated(directory, client, &alone) {
            Ok(_) => continue,
            Err(Error::ConsentRequired { .. }) => {}
            Err(e) => return Err(e),
        }
        let app = match &with_user {
            Some(app) => app,
            None => {
                let grants = store.consent_grants(&client.client_id, user_oid).await?;
                with_user.insert(with_grants(client, &grants))
            }
        };
        match delegated(directory, app, &alone) {
            Ok(_) => {}
            Err(Error::ConsentRequired { .. }) => missing.push((g, alone)),
            Err(e) => return Err(e),
        }
    }
    Ok(missing)
}

/// A client asking a token for itself must name itself by its client id (`{client id}/scope`),
/// not by its App ID URI: AADSTS90009. Entra answers so at the refresh grant
/// (microsoft-authentication-library-for-js issue 5198, DuendeArchive/IdentityModel issue 528,
/// Softeria/ms-365-mcp-server issues 502 and 508: "Sign-in tolerates the URI form; only refresh
/// breaks") and at ROPC (microsoft-authentication-library-for-java issue 735), not at /authorize
/// nor at the code's redemption.
pub fn check_itself_named_by_id(
    directory: &Directory,
    client: &Application,
    scope: &str,
) -> Result<()> {
    for s in scope::parse(directory, scope)?.resource_scopes {
        let itself = matches!(&s.resource, Resource::Api(api) if api.client_id == client.client_id);
        if itself
            && !s
                .prefix
                .trim_end_matches('/')
                .eq_ignore_ascii_case(&client.client_id)
        {
            return Err(Error::TokenForItselfByUri {
                client_id: client.client_id.clone(),
                name: client.display_name.clone(),
            });
        }
    }
    Ok(())
}

/// Resolves the scopes of a delegated request (authorization code, refresh token).
pub fn delegated(directory: &Directory, client: &Application, scope: &str) -> Result<Delegated> {
    let parsed = scope::parse(directory, scope)?;
    let oidc = parsed.oidc;
    let mut resource: Option<(Resource, String)> = None;
    let mut asked: Vec<String> = Vec::new();
    for s in parsed.resource_scopes {
        match &resource {
            Some((existing, _)) if existing.id() != s.resource.id() => {
                return Err(Error::MultipleResources(scope.to_string()))
            }
            Some(_) => {}
            None => resource = Some((s.resource, s.prefix)),
        }
        asked.push(s.value);
    }
    let consent_required = || Error::ConsentRequired {
        client_id: client.client_id.clone(),
        name: client.display_name.clone(),
    };
    match resource {
        None | Some((Resource::Graph, _)) => {
            // Graph: every app holds User.Read, and what `mock.graphPermissions` granted.
            let mut values = vec![GRAPH_USER_READ.to_string()];
            let granted = &client.graph_permissions.delegated;
            for v in &asked {
                if v == ".default" {
                    for g in granted {
                        if !values.contains(g) {
                            values.push(g.clone());
                        }
                    }
                } else if !v.eq_ignore_ascii_case(GRAPH_USER_READ) {
                    let g = granted
                        .iter()
                        .find(|g| g.eq_ignore_ascii_case(v))
                        .ok_or_else(consent_required)?;
                    if !values.contains(g) {
                        values.push(g.clone());
                    }
                }
            }
            for (on, name) in [
                (oidc.profile, "profile"),
                (oidc.openid, "openid"),
                (oidc.email, "email"),
            ] {
                if on {
                    values.push(name.to_string());
                }
            }
            let granted = values.join(" ");
            Ok(Delegated {
                oidc,
                target: Target::Graph,
                values,
                granted,
            })
        }
        Some((Resource::Api(api), prefix)) => {
            let consented = client
                .consents
                .get(&api.client_id)
                .cloned()
                .unwrap_or_default();
            let mut values: Vec<String> = Vec::new();
            for v in asked {
                if v == ".default" {
                    if consented.is_empty() {
                        return Err(consent_required());
                    }
                    for c in &consented {
                        if !values.contains(c) {
                            values.push(c.clone());
                        }
                    }
                    continue;
                }
                if !consented.contains(&v) {
                    return Err(consent_required());
                }
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            let granted = values
                .iter()
                .map(|v| format!("{prefix}/{v}"))
                .collect::<Vec<_>>()
                .join(" ");
            Ok(Delegated {
                oidc,
                target: Target::Api { api, named: prefix },
                values,
                granted,
            })
        }
    }
}

/// Resolves the scope of a client-credentials request: exactly `{resource}/.default`
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret>).
/// Returns the target and the app roles granted to the client on it.
pub fn app_only(
    directory: &Directory,
    client: &Application,
    scope: &str,
) -> Result<(Target, Vec<String>)> {
    let parts: Vec<&str> = scope.split_whitespace().collect();
    let mut resource: Option<(Resource, String)> = None;
    for p in &parts {
        let Some(prefix) = p.strip_suffix("/.default") else {
            return Err(Error::ClientCredentialsScope(scope.to_string()));
        };
        let r = find_resource(directory, prefix)?;
        if resource.as_ref().is_some_and(|(x, _)| x.id() != r.id()) {
            return Err(Error::MultipleResources(scope.to_string()));
        }
        resource = Some((r, prefix.to_string()));
    }
    match resource {
        None => Err(Error::MissingParameter("scope")),
        Some((Resource::Graph, _)) => {
            Ok((Target::Graph, client.graph_permissions.application.clone()))
        }
        Some((Resource::Api(api), named)) => {
            let roles = client
                .granted_roles
                .get(&api.client_id)
                .map(|granted| {
                    granted
                        .iter()
                        .filter(|g| api.app_roles.iter().any(|r| r.for_apps && &r.value == *g))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            Ok((Target::Api { api, named }, roles))
        }
    }
}
