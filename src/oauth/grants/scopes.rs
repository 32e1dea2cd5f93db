//! Scopes of a token request, resolved as Entra does
//! (<https://learn.microsoft.com/entra/identity-platform/scopes-oidc>): OpenID scopes, then the
//! scopes of exactly one resource (AADSTS28000 for more), each exposed by the resource
//! (AADSTS70011) and consented for the client (AADSTS65001). `{resource}/.default` stands for every
//! consented scope. With OpenID scopes only, Entra returns a token for Microsoft Graph.

use crate::directory::{Application, Directory};
use crate::error::{Error, Result};
use crate::oauth::claims::Target;
pub use crate::oauth::scope::OidcScopes;
use crate::oauth::scope::{self, find_resource, Resource, ResourceScope, Written};
pub use crate::store::consents::Grant;
use crate::store::Store;

/// Graph's delegated permission every app has by default.
const GRAPH_USER_READ: &str = "User.Read";

/// The scopes of a delegated request, resolved.
#[derive(Debug, Clone)]
pub struct Delegated {
    pub oidc: OidcScopes,
    pub target: Target,
    /// `scp` values: every scope consented for the client on the resource, bare.
    pub values: Vec<String>,
    /// The response's `scope` ([`answered_scope`]).
    pub granted: String,
    /// The resource scopes as the request named them: what a refresh token stands for.
    pub asked: Vec<String>,
    /// The client asked a token for itself naming itself by an App ID URI, not its client id
    /// ([`Delegated::check_itself_named_by_id`]).
    itself_by_uri: bool,
}

impl Delegated {
    /// A client asking a token for itself must name itself by its client id
    /// (`{client id}/scope`), not by its App ID URI: AADSTS90009. Entra answers so at the
    /// refresh grant (microsoft-authentication-library-for-js issue 5198,
    /// DuendeArchive/IdentityModel issue 528, Softeria/ms-365-mcp-server issues 502 and 508:
    /// "Sign-in tolerates the URI form; only refresh breaks") and at ROPC
    /// (microsoft-authentication-library-for-java issue 735), not at /authorize nor at the
    /// code's redemption: those grants call this, the others do not.
    pub fn check_itself_named_by_id(&self, client: &Application) -> Result<()> {
        if self.itself_by_uri {
            return Err(Error::TokenForItselfByUri {
                client_id: client.client_id.clone(),
                name: client.display_name.clone(),
            });
        }
        Ok(())
    }
}

/// Microsoft Graph's application id: the resource of Graph scopes in consent grants.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// [`delegated_with`] for a user, reading what the client holds for them (their own grants and
/// the tenant-wide ones, `store::consents`). The grants that read a code or a refresh token
/// get the consent grants in the same query ([`delegated_with`]); the others read them here.
pub async fn delegated_for(
    store: &Store,
    directory: &Directory,
    client: &Application,
    user_oid: &str,
    scope: &str,
) -> Result<Delegated> {
    let grants = store.consent_grants(&client.client_id, user_oid).await?;
    delegated_with(directory, client, &grants, scope)
}

/// The resource scopes of a request a user could consent to, each with the scope string that
/// names it alone (`{prefix}/{value}`): `.default`, `User.Read` and the OpenID scopes need none.
pub fn consentable(directory: &Directory, scope: &str) -> Result<Vec<(Grant, String)>> {
    Ok(consentable_of(scope::parse(directory, scope)?))
}

/// [`consentable`] of a parsed `scope`.
fn consentable_of(parsed: scope::Scopes) -> Vec<(Grant, String)> {
    parsed
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
        .collect()
}

/// What a consent page asks for: the app's own scopes, and bundled ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsentList {
    /// For the app asking, each as the scope string that names it alone (`{resource}/{value}`).
    pub own: Vec<String>,
    /// Bundled consent: (the API's client id, scope string) for each registered permission of
    /// an API that lists the app among its `knownClientApplications`
    /// (<https://learn.microsoft.com/graph/api/resources/apiapplication>: "consenting to the
    /// client means implicitly consenting to the web API").
    #[serde(default)]
    pub bundled: Vec<(String, String)>,
}

impl ConsentList {
    pub fn is_empty(&self) -> bool {
        self.own.is_empty() && self.bundled.is_empty()
    }

    /// What the page lists: each scope once.
    pub fn shown(&self) -> Vec<String> {
        let mut out = self.own.clone();
        for (_, s) in &self.bundled {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }
}

/// The scopes the consent page lists for `scope`, each as the scope string that names it alone;
/// empty when nothing needs consent. `forced` (`prompt=consent`, `/adminconsent`): every scope
/// asked, as asked. Otherwise what the client does not hold for the user yet: each consentable
/// scope checked on its own (an authorization request may name several resources), the user's
/// grants read once and only if the tenant-wide consent leaves a scope uncovered.
///
/// `{resource}/.default` stands for the app's registered permissions (scopes-oidc, "The .default
/// scope": "if no permission has been granted for the requested resource (or if the
/// `prompt=consent` parameter has been provided), a consent prompt is shown for all required
/// permissions configured on the client application registration, for all APIs in the list"):
/// nothing is asked when something of the resource is consented already (unless forced), and a
/// resource the registration does not list, with nothing consented, is AADSTS650057. A page
/// that asks for them also asks for the registered permissions of the APIs in the list that
/// bundle their consent with the app ([`ConsentList::bundled`]).
pub async fn consent_page(
    store: &Store,
    directory: &Directory,
    client: &Application,
    user_oid: &str,
    scope: &str,
    forced: bool,
) -> Result<ConsentList> {
    let mut grants: Option<Vec<Grant>> = None;
    let mut out: Vec<String> = Vec::new();
    let mut static_asked = false;
    // Whether the client holds `alone` for the user: the directory's consent first, the
    // store's grants only if that leaves it uncovered.
    let mut holds = async |alone: &str| -> Result<bool> {
        if consented(delegated(directory, client, alone))? {
            return Ok(true);
        }
        let grants = match &grants {
            Some(grants) => grants,
            None => grants.insert(store.consent_grants(&client.client_id, user_oid).await?),
        };
        consented(delegated_with(directory, client, grants, alone))
    };
    let parsed = scope::parse(directory, scope)?;
    for s in parsed
        .resource_scopes
        .iter()
        .filter(|s| s.value == ".default")
    {
        let default = format!("{}/.default", s.prefix);
        let held = holds(&default).await?;
        // The app's own `.default` asks for all its registered permissions (scopes-oidc, "Using
        // the .default scope with the client").
        let registered = s.resource.id() == client.client_id
            || client
                .required_resource_access
                .iter()
                .any(|r| r.resource.eq_ignore_ascii_case(s.resource.id()));
        if !held && !registered {
            return Err(not_registered(client, s));
        }
        if held && !forced {
            continue;
        }
        static_asked = true;
        for (_, alone) in required_permissions(directory, client) {
            if !out.contains(&alone) && (forced || !holds(&alone).await?) {
                out.push(alone);
            }
        }
    }
    let bundled = match static_asked {
        true => bundled(store, directory, client, user_oid, forced).await?,
        false => Vec::new(),
    };
    if forced {
        // A `.default` stands for the registered permissions, when there are any.
        let expanded = !out.is_empty();
        for word in scope.split_whitespace() {
            let default = word
                .rsplit_once('/')
                .is_some_and(|(p, v)| !p.is_empty() && v == ".default");
            if (!default || !expanded) && !out.iter().any(|o| o == word) {
                out.push(word.to_string());
            }
        }
        return Ok(ConsentList { own: out, bundled });
    }
    for (_, alone) in consentable_of(parsed) {
        if !out.contains(&alone) && !holds(&alone).await? {
            out.push(alone);
        }
    }
    Ok(ConsentList { own: out, bundled })
}

/// Whether a resolution found its scopes consented (AADSTS65001 is "no"; other errors stay).
fn consented(resolved: Result<Delegated>) -> Result<bool> {
    match resolved {
        Ok(_) => Ok(true),
        Err(Error::ConsentRequired { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Bundled consent: the registered permissions of each API the client registers that lists the
/// client among its `knownClientApplications`, those the API does not hold for the user yet (all
/// of them when `forced`), each with the API's client id.
async fn bundled(
    store: &Store,
    directory: &Directory,
    client: &Application,
    user_oid: &str,
    forced: bool,
) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in &client.required_resource_access {
        let Some(api) = directory.applications.get(&r.resource) else {
            continue;
        };
        let known = api
            .known_client_applications
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&client.client_id));
        if !known {
            continue;
        }
        let api_grants = match forced {
            true => Vec::new(),
            false => store.consent_grants(&api.client_id, user_oid).await?,
        };
        for (_, alone) in required_permissions(directory, api) {
            let held = !forced && consented(delegated_with(directory, api, &api_grants, &alone))?;
            let entry = (api.client_id.clone(), alone);
            if !held && !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

/// The permissions the client registers (`requiredResourceAccess`), on every resource, each
/// with the scope string that names it alone (an API by its first App ID URI, else its client
/// id); Graph's `User.Read`, which every app holds, is left out.
pub fn required_permissions(directory: &Directory, client: &Application) -> Vec<(Grant, String)> {
    let mut out = Vec::new();
    for r in &client.required_resource_access {
        let prefix = if r.resource == GRAPH_APP_ID {
            "https://graph.microsoft.com".to_string()
        } else {
            match directory.applications.get(&r.resource) {
                Some(api) => api
                    .identifier_uris
                    .first()
                    .cloned()
                    .unwrap_or_else(|| api.client_id.clone()),
                // Removed through the test-control API since: nothing to ask for.
                None => continue,
            }
        };
        for v in &r.scopes {
            if r.resource == GRAPH_APP_ID && v.eq_ignore_ascii_case(GRAPH_USER_READ) {
                continue;
            }
            let grant = Grant {
                resource_client_id: r.resource.clone(),
                scope: v.clone(),
            };
            out.push((grant, format!("{prefix}/{v}")));
        }
    }
    out
}

/// AADSTS650057 for `.default` of `s`'s resource.
fn not_registered(client: &Application, s: &ResourceScope) -> Error {
    let valid: Vec<&str> = client
        .required_resource_access
        .iter()
        .map(|r| r.resource.as_str())
        .collect();
    Error::ResourceNotRequired {
        client_id: client.client_id.clone(),
        name: client.display_name.clone(),
        resource: s.prefix.clone(),
        resource_id: s.resource.id().to_string(),
        valid: valid.join(", "),
    }
}

/// [`delegated_with`] with the consent the directory holds alone (pre-authorization, the
/// fixtures' Graph permissions), without any grant of the store.
pub fn delegated(directory: &Directory, client: &Application, scope: &str) -> Result<Delegated> {
    delegated_with(directory, client, &[], scope)
}

/// Resolves the scopes of a delegated request (authorization code, refresh token, ...) with the
/// client's consent: the directory's (pre-authorization, `mock.graphPermissions`) and `grants`
/// (the user's own and tenant-wide `oauth2PermissionGrant`s). Every scope asked must be
/// consented (AADSTS65001); the token then carries every scope consented for the client on
/// that resource, not only those asked: "access tokens will have all effective scopes" (MSAL.NET
/// issue 1713, by design; real answers in MicrosoftDocs/azure-docs issue 35639: Calendars.Read
/// asked, Calendars.ReadWrite and Contacts.Read answered too).
pub fn delegated_with(
    directory: &Directory,
    client: &Application,
    grants: &[Grant],
    scope: &str,
) -> Result<Delegated> {
    let parsed = scope::parse(directory, scope)?;
    let oidc = parsed.oidc;
    let mut first: Option<&ResourceScope> = None;
    for s in &parsed.resource_scopes {
        match first {
            Some(f) if f.resource.id() != s.resource.id() => {
                return Err(Error::MultipleResources(scope.to_string()))
            }
            Some(_) => {}
            None => first = Some(s),
        }
    }
    let resource = first.map_or(Resource::Graph, |f| f.resource.clone());
    let itself_by_uri = matches!(&resource, Resource::Api(api) if api.client_id == client.client_id)
        && parsed.resource_scopes.iter().any(|s| {
            !s.prefix
                .trim_end_matches('/')
                .eq_ignore_ascii_case(&client.client_id)
        });
    // Graph: every app holds User.Read, and what `mock.graphPermissions` granted.
    let mut consented: Vec<String> = match &resource {
        Resource::Graph => std::iter::once(GRAPH_USER_READ)
            .chain(
                client
                    .graph_permissions
                    .delegated
                    .iter()
                    .map(String::as_str),
            )
            .map(str::to_string)
            .collect(),
        Resource::Api(api) => client
            .consents
            .get(&api.client_id)
            .cloned()
            .unwrap_or_default(),
    };
    for g in grants {
        if g.resource_client_id == resource.id()
            && !consented.iter().any(|c| c.eq_ignore_ascii_case(&g.scope))
        {
            consented.push(g.scope.clone());
        }
    }
    let consent_required = || Error::ConsentRequired {
        client_id: client.client_id.clone(),
        name: client.display_name.clone(),
    };
    for s in &parsed.resource_scopes {
        let held = if s.value == ".default" {
            !consented.is_empty()
        } else {
            consented.iter().any(|c| c.eq_ignore_ascii_case(&s.value))
        };
        if !held {
            return Err(consent_required());
        }
    }
    let granted = answered_scope(&parsed.resource_scopes, &consented, oidc, &resource);
    let asked = parsed
        .resource_scopes
        .iter()
        .map(|s| as_written(s, &s.value))
        .collect();
    let mut values = consented;
    let target = match resource {
        Resource::Graph => {
            for (on, name) in [
                (oidc.profile, "profile"),
                (oidc.openid, "openid"),
                (oidc.email, "email"),
            ] {
                if on {
                    values.push(name.to_string());
                }
            }
            Target::Graph
        }
        Resource::Api(api) => Target::Api {
            api,
            named: first.map(|f| f.prefix.clone()).unwrap_or_default(),
        },
    };
    Ok(Delegated {
        oidc,
        target,
        values,
        granted,
        asked,
        itself_by_uri,
    })
}

/// `value` in the form `s` was written in: bare, or after the prefix exactly as the client wrote
/// it.
fn as_written(s: &ResourceScope, value: &str) -> String {
    match s.written {
        Written::Bare => value.to_string(),
        Written::Prefixed => format!("{}/{value}", s.prefix),
    }
}

/// The response's `scope`, as Entra answers it: each consented scope in the form the request
/// named it (a scope not asked for in the form of the first one asked), sorted, then the
/// `.default` asked for. Recorded real answers (Azure/azure-sdk-for-js, sdk/identity/identity/recordings/node):
/// `https://graph.microsoft.com/Calendars.Read openid profile offline_access` got
/// `openid profile email https://graph.microsoft.com/Calendars.Read https://graph.microsoft.com/User.Read`
/// (devicecodecredential); `User.ReadWrite.All openid profile offline_access` got bare names
/// sorted with the OpenID ones (cae/usernamepasswordcredential); `https://management.azure.com/.default`
/// got `https://management.azure.com/user_impersonation https://management.azure.com/.default`.
/// The OpenID scopes appear for Graph only (they are Graph's permissions), `openid`, `profile`
/// and `email` when asked; `offline_access` never.
fn answered_scope(
    asked: &[ResourceScope],
    consented: &[String],
    oidc: OidcScopes,
    resource: &Resource,
) -> String {
    let form_of = |value: &str| {
        asked
            .iter()
            .find(|s| s.value.eq_ignore_ascii_case(value))
            .or(asked.first())
    };
    let mut names: Vec<String> = consented
        .iter()
        .map(|c| form_of(c).map_or_else(|| c.clone(), |s| as_written(s, c)))
        .collect();
    let mut out: Vec<String> = Vec::new();
    if let Resource::Graph = resource {
        let openid = [
            (oidc.openid, "openid"),
            (oidc.profile, "profile"),
            (oidc.email, "email"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| name.to_string());
        match asked.first().map(|s| s.written) {
            None | Some(Written::Bare) => names.extend(openid),
            Some(Written::Prefixed) => out.extend(openid),
        }
    }
    names.sort_by_key(|n| n.to_ascii_lowercase());
    out.extend(names);
    for s in asked.iter().filter(|s| s.value == ".default") {
        let default = as_written(s, ".default");
        if !out.contains(&default) {
            out.push(default);
        }
    }
    out.join(" ")
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
            let roles: Vec<String> = client
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
            // `appRoleAssignmentRequired` on the resource: an app holding none of its roles
            // gets no token.
            if api.assignment_required && roles.is_empty() {
                return Err(Error::AppNotAssigned {
                    client_id: client.client_id.clone(),
                    name: client.display_name.clone(),
                    resource: named,
                    resource_name: api.display_name.clone(),
                });
            }
            Ok((Target::Api { api, named }, roles))
        }
    }
}
