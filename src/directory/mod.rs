//! The directory: tenants, app registrations, users and groups as the protocol code sees them.
//! Registrations only change when fixtures are loaded at start-up, so they are read once into a
//! [`Directory`] snapshot; users carry mutable state (MFA, lockout) and are read from the store.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};

mod claims_config;
mod users;
pub use claims_config::{
    ClaimsConfig, GroupMembership, GroupsFormat, OptionalClaim, GROUPS_OVERAGE_LIMIT,
};
pub use users::{Credentials, MfaMethod, MfaPolicy, User};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub domain: String,
    pub display_name: String,
    /// Wrong MFA codes in a row before the user is locked (AADSTS50053).
    pub mfa_lockout_threshold: i64,
    pub mfa_lockout_secs: i64,
    /// Smart lockout: wrong passwords in a row before the user is locked (AADSTS50053), and for
    /// how long (Entra's defaults: 10 and 60 seconds).
    pub lockout_threshold: i64,
    pub lockout_secs: i64,
}

/// Whether a request's client must authenticate. Entra decides it per request, not per app
/// ("How Microsoft Entra ID determines the client type",
/// <https://learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/confidential-client-application-authentication-error-aadsts7000218>):
/// by the platform of the redirect URI a code was sent to ([`Platform::client_type`]), and for
/// flows with no redirect URI (ROPC, device code) by the app's `isFallbackPublicClient`
/// ([`Application::fallback_client_type`]). A refresh token keeps the type of the grant that
/// started its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Confidential,
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Platform {
    #[serde(rename = "web")]
    Web,
    #[serde(rename = "spa")]
    Spa,
    #[serde(rename = "publicClient")]
    PublicClient,
}

impl Platform {
    /// A `web` redirect URI makes its client confidential; `publicClient` ("Mobile and
    /// desktop applications") and `spa` ones public ([`ClientType`]).
    pub fn client_type(self) -> ClientType {
        match self {
            Platform::Web => ClientType::Confidential,
            Platform::Spa | Platform::PublicClient => ClientType::Public,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Spa => "spa",
            Platform::PublicClient => "publicClient",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(Platform::Web),
            "spa" => Some(Platform::Spa),
            "publicClient" => Some(Platform::PublicClient),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    V1,
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReuse {
    /// Entra's behaviour: an already-rotated refresh token keeps working.
    Allow,
    /// RFC 9700 section 4.14.2: reuse of a rotated token revokes the whole family.
    Detect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionReuse {
    /// Strict RFC 7523 section 3: a client assertion's `jti` is accepted once.
    Reject,
    /// Real Entra, and the default: the same assertion may be sent again while it is valid
    /// (MSAL and azure-identity cache it for minutes).
    Allow,
}

/// When a credential may be used: Graph's `startDateTime` and `endDateTime` of a
/// passwordCredential or keyCredential, as Unix seconds; `None` leaves that side open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// Where `now` falls in a credential's [`Validity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityPhase {
    NotYetValid,
    Valid,
    Expired,
}

impl Validity {
    /// The start and end are both part of the window.
    pub fn at(&self, now: i64) -> ValidityPhase {
        if self.start.is_some_and(|s| now < s) {
            ValidityPhase::NotYetValid
        } else if self.end.is_some_and(|e| now > e) {
            ValidityPhase::Expired
        } else {
            ValidityPhase::Valid
        }
    }
}

/// A client secret: its SHA-256 digest and when it may be used.
#[derive(Clone)]
pub struct ClientSecret {
    pub digest: Vec<u8>,
    pub validity: Validity,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct ClientCertificate {
    pub thumbprint_sha1: String,
    pub thumbprint_sha256: String,
    pub public_key_der: Vec<u8>,
    pub validity: Validity,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint_sha1", &self.thumbprint_sha1)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRole {
    pub value: String,
    pub id: String,
    pub for_users: bool,
    pub for_apps: bool,
}

/// The audience Entra expects in a federated credential's token by default.
pub const FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// One of an app's `federatedIdentityCredentials`: tokens of `issuer` for `subject` whose `aud` is
/// one of `audiences` authenticate the app (workload identity federation). `{base}` at the start
/// of `issuer` stands for the URL the request reached this server by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

impl FederatedCredential {
    /// The issuer as a token from it names it, for a request that reached us at `base_url`.
    pub fn issuer_at(&self, base_url: &str) -> String {
        match self.issuer.strip_prefix("{base}") {
            Some(rest) => format!("{base_url}{rest}"),
            None => self.issuer.clone(),
        }
    }
}

/// What kind of managed identity an entry is
/// (<https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/overview>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedIdentity {
    SystemAssigned,
    UserAssigned,
}

#[derive(Clone)]
pub struct Application {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub display_name: String,
    pub service_principal_id: String,
    /// `isFallbackPublicClient`: the client type of flows with no redirect URI (ROPC, device
    /// code), "where Microsoft Entra ID cannot determine the client application type"
    /// (Graph's application resource, <https://learn.microsoft.com/graph/api/resources/application>).
    pub fallback_client_type: ClientType,
    /// The App ID URIs (`identifierUris`), each a name of the API in scopes and v1 resources.
    pub identifier_uris: Vec<String>,
    pub access_token_version: TokenVersion,
    pub front_channel_logout_url: Option<String>,
    pub require_mfa: bool,
    /// The service principal's `appRoleAssignmentRequired` ([`Directory::user_assigned`]).
    pub assignment_required: bool,
    pub stay_signed_in_prompt: bool,
    pub strict_entra_claims: bool,
    pub allow_id_token_implicit: bool,
    pub allow_access_token_implicit: bool,
    pub refresh_reuse: RefreshReuse,
    /// Under `detect`, seconds after its first use within which a rotated refresh token is
    /// answered again rather than taken as stolen.
    pub refresh_reuse_grace_secs: i64,
    /// A managed identity's kind; `None` for an app registration.
    pub managed_identity: Option<ManagedIdentity>,
    pub assertion_reuse: AssertionReuse,
    /// `None`: Entra's default, a random lifetime between 60 and 90 minutes.
    pub access_token_lifetime_secs: Option<i64>,
    pub id_token_lifetime_secs: i64,
    pub redirect_uris: Vec<(Platform, String)>,
    pub post_logout_redirect_uris: Vec<String>,
    pub secrets: Vec<ClientSecret>,
    pub certificates: Vec<ClientCertificate>,
    /// Delegated scopes this application exposes as an API.
    pub scopes: Vec<String>,
    pub app_roles: Vec<AppRole>,
    /// Pre-consented delegated scopes: resource client id -> scope values.
    pub consents: HashMap<String, Vec<String>>,
    /// Application permissions granted: resource client id -> role values.
    pub granted_roles: HashMap<String, Vec<String>>,
    /// `groupMembershipClaims`, `optionalClaims` and the groups overage limit.
    pub claims: ClaimsConfig,
    pub sign_in_audience: SignInAudience,
    /// Microsoft Graph permissions granted to the app (admin consent).
    pub graph_permissions: GraphPermissions,
    /// Workload identity federation.
    pub federated_credentials: Vec<FederatedCredential>,
    /// `requiredResourceAccess`: the delegated permissions the app registers, per resource
    /// ("API permissions"), what `{resource}/.default` asks consent for.
    pub required_resource_access: Vec<RequiredResource>,
    /// `api.knownClientApplications`: the client ids whose consent to this API bundles consent
    /// to this API's own registered permissions.
    pub known_client_applications: Vec<String>,
}

/// The delegated permissions an app registers on one resource (an entry of its
/// `requiredResourceAccess`): the resource's client id (Graph's appId for Graph) and scope values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequiredResource {
    pub resource: String,
    pub scopes: Vec<String>,
}

/// Microsoft Graph permissions an app holds besides `User.Read`, which every app has: delegated
/// scopes (`scp` of its Graph tokens) and application roles (`roles` of its app-only Graph
/// tokens), e.g. `User.RevokeSessions.All`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GraphPermissions {
    pub delegated: Vec<String>,
    pub application: Vec<String>,
}

/// Who may sign in to an app: the manifest's `signInAudience`
/// (<https://learn.microsoft.com/entra/identity-platform/supported-accounts-validation>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAudience {
    /// Single tenant (Entra's default for a new registration).
    AzureAdMyOrg,
    /// Any organisation: usable on `/common` and `/organizations`.
    AzureAdMultipleOrgs,
}

impl SignInAudience {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInAudience::AzureAdMyOrg => "AzureADMyOrg",
            SignInAudience::AzureAdMultipleOrgs => "AzureADMultipleOrgs",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AzureADMyOrg" => Some(SignInAudience::AzureAdMyOrg),
            "AzureADMultipleOrgs" => Some(SignInAudience::AzureAdMultipleOrgs),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("secrets", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Whether the app has a credential to authenticate with: a secret, a certificate or a
    /// federated credential.
    pub fn has_credentials(&self) -> bool {
        !(self.secrets.is_empty()
            && self.certificates.is_empty()
            && self.federated_credentials.is_empty())
    }

    /// The platform of the registered redirect URI `uri` names: compared exactly (case included)
    /// as Entra does, except the port of a loopback one (`http://localhost`, `http://127.0.0.1`):
    /// "the port component ... is ignored for the purposes of matching a redirect URI", so that a
    /// native app may listen on an ephemeral port
    /// (<https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions>,
    /// RFC 8252 section 7.3). An exact match wins over one that differs in its port only.
    pub fn redirect_platform(&self, uri: &str) -> Option<Platform> {
        let exact = self.redirect_uris.iter().find(|(_, u)| u == uri);
        let loopback = || {
            self.redirect_uris
                .iter()
                .find(|(_, u)| redirect_uri_matches(u, uri))
        };
        exact.or_else(loopback).map(|(p, _)| *p)
    }

    /// Whether `id` names this API: its client id, or any of its App ID URIs
    /// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>: a v1
    /// `aud` "can be any appID URI, with or without a trailing slash"). `api://{client id}` names
    /// the app only once it is one of its App ID URIs, as the portal's "Expose an API" sets it:
    /// Entra answers an unregistered one with AADSTS500011, "The resource principal named
    /// api://{client id} was not found" (e.g. MicrosoftDocs/azure-docs issue 61515,
    /// Azure-Samples/active-directory-dotnetcore-daemon-v2 issue 105).
    pub fn is_resource_identified_by(&self, id: &str) -> bool {
        id == self.client_id
            || self
                .identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/') == id.trim_end_matches('/'))
    }

    /// The audience of access tokens for this resource when the request did not name it: by its
    /// accepted token version, the client id (v2) or the first App ID URI (v1).
    pub fn audience(&self) -> String {
        match self.access_token_version {
            TokenVersion::V2 => self.client_id.clone(),
            TokenVersion::V1 => self
                .identifier_uris
                .first()
                .cloned()
                .unwrap_or_else(|| self.client_id.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    /// A tenant addressed by id or verified domain.
    Tenant,
    /// `common`: any organisation.
    Common,
    /// `organizations`: any work or school account.
    Organizations,
}

/// The tenant segment of a request, resolved.
#[derive(Debug, Clone)]
pub struct ResolvedTenant {
    /// What the request used: endpoints of `common`/`organizations` keep that segment.
    pub segment: String,
    pub scope: TenantScope,
    /// The tenant itself (for common/organizations: the default tenant, used for sign-in).
    pub tenant: Arc<Tenant>,
}

impl ResolvedTenant {
    /// A single-tenant app on `/common` or `/organizations` gets AADSTS50194
    /// (<https://learn.microsoft.com/entra/identity-platform/howto-convert-app-to-be-multi-tenant>).
    pub fn admits(&self, app: &Application) -> Result<()> {
        match (self.scope, app.sign_in_audience) {
            (TenantScope::Tenant, _) | (_, SignInAudience::AzureAdMultipleOrgs) => Ok(()),
            _ => Err(Error::SingleTenantAppOnCommon {
                client_id: app.client_id.clone(),
                name: app.display_name.clone(),
            }),
        }
    }

    /// The path segment endpoints are written with: the tenant id, or the literal
    /// `common`/`organizations`.
    pub fn endpoint_segment(&self) -> &str {
        match self.scope {
            TenantScope::Tenant => &self.tenant.id,
            _ => &self.segment,
        }
    }

    /// The tid written into the issuer: the id, or the literal `{tenantid}` template.
    pub fn issuer_tid(&self) -> &str {
        match self.scope {
            TenantScope::Tenant => &self.tenant.id,
            _ => "{tenantid}",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

/// Immutable snapshot of what fixtures registered.
#[derive(Debug, Default)]
pub struct Directory {
    pub tenants: Vec<Arc<Tenant>>,
    pub applications: HashMap<String, Arc<Application>>,
    pub groups: Vec<Group>,
    /// user oid -> (resource client id, role value)
    pub user_roles: HashMap<String, Vec<(String, String)>>,
    /// group id -> the applications it is assigned to (app-role assignments of the group).
    pub group_apps: HashMap<String, Vec<String>>,
}

impl Directory {
    pub fn resolve_tenant(&self, segment: &str) -> Result<ResolvedTenant> {
        let default = self
            .tenants
            .first()
            .ok_or_else(|| Error::TenantNotFound(segment.to_string()))?;
        let (scope, tenant) = if segment.eq_ignore_ascii_case("common") {
            (TenantScope::Common, default.clone())
        } else if segment.eq_ignore_ascii_case("organizations") {
            (TenantScope::Organizations, default.clone())
        } else {
            (
                TenantScope::Tenant,
                self.tenants
                    .iter()
                    .find(|t| {
                        t.id.eq_ignore_ascii_case(segment) || t.domain.eq_ignore_ascii_case(segment)
                    })
                    .cloned()
                    .ok_or_else(|| Error::TenantNotFound(segment.to_string()))?,
            )
        };
        Ok(ResolvedTenant {
            segment: segment.to_string(),
            scope,
            tenant,
        })
    }

    pub fn tenant(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// An application registered in the tenant (or any tenant, for common/organizations).
    pub fn application(
        &self,
        tenant: &ResolvedTenant,
        client_id: &str,
    ) -> Result<Arc<Application>> {
        self.applications
            .get(client_id)
            .filter(|a| tenant.scope != TenantScope::Tenant || a.tenant_id == tenant.tenant.id)
            .cloned()
            .ok_or_else(|| Error::UnknownClient {
                client_id: client_id.to_string(),
                tenant: tenant.tenant.id.clone(),
            })
    }

    /// The resource (API) application named by an App ID URI or client id.
    pub fn resource(&self, id: &str) -> Option<&Arc<Application>> {
        self.applications
            .values()
            .find(|a| a.is_resource_identified_by(id))
    }

    pub fn groups_of(&self, user_oid: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user_oid))
            .map(|g| g.id.clone())
            .collect()
    }

    /// The display name of a group, by id.
    pub fn group_display_name(&self, id: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.display_name.as_str())
    }

    /// The groups of a user that are assigned to an application.
    pub fn app_groups_of(&self, user_oid: &str, client_id: &str) -> Vec<String> {
        self.groups_of(user_oid)
            .into_iter()
            .filter(|g| {
                self.group_apps
                    .get(g)
                    .is_some_and(|apps| apps.iter().any(|a| a == client_id))
            })
            .collect()
    }

    /// Whether `user_oid` may sign in to `app`: always, unless the app requires assignment
    /// (`appRoleAssignmentRequired`); then only a user assigned to it (one of its roles, or
    /// Default Access), directly or through a group (a group's assignment is stored for each
    /// member). "If this option is set
    /// to yes, then users and other apps or services must first be assigned this application
    /// before being able to access it"
    /// (<https://learn.microsoft.com/entra/identity/enterprise-apps/application-properties#assignment-required>).
    pub fn user_assigned(&self, user_oid: &str, app: &Application) -> bool {
        !app.assignment_required
            || self
                .user_roles
                .get(user_oid)
                .is_some_and(|v| v.iter().any(|(resource, _)| *resource == app.client_id))
    }

    /// The app roles `user_oid` holds on a resource, for the `roles` claim: Default Access (the
    /// role '') is an assignment without one.
    pub fn user_roles_for(&self, user_oid: &str, resource_client_id: &str) -> Vec<String> {
        self.user_roles
            .get(user_oid)
            .map(|v| {
                v.iter()
                    .filter(|(r, role)| r == resource_client_id && !role.is_empty())
                    .map(|(_, role)| role.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A loopback redirect URI without its port, as (host, path and query): `http://localhost:5001/cb`
/// gives (`localhost`, `/cb`), and `http://127.0.0.1` (`127.0.0.1`, `/`). `None` for any other
/// URI, and for a loopback host followed by more than a port (`http://localhost.evil.example`).
/// Whether the redirect URI `asked` is the `registered` one: the same string, or for a loopback
/// URI the same host and path on any port ([`Application::redirect_platform`]).
pub fn redirect_uri_matches(registered: &str, asked: &str) -> bool {
    registered == asked
        || loopback_without_port(asked)
            .is_some_and(|a| loopback_without_port(registered) == Some(a))
}

fn loopback_without_port(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let host = ["localhost", "127.0.0.1"]
        .into_iter()
        .find(|h| rest.starts_with(h))?;
    let mut after = &rest[host.len()..];
    if let Some(port) = after.strip_prefix(':') {
        let digits = port.len() - port.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if !(1..=5).contains(&digits) {
            return None;
        }
        after = &port[digits..];
    }
    match after {
        "" => Some((host, "/")),
        _ if after.starts_with('/') => Some((host, after)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_without_port as parts;

    #[test]
    fn a_loopback_redirect_uri_is_compared_without_its_port_and_nothing_else_is() {
        assert_eq!(parts("http://localhost"), Some(("localhost", "/")));
        assert_eq!(parts("http://localhost:54321"), Some(("localhost", "/")));
        assert_eq!(
            parts("http://127.0.0.1:8080/cb?x=1"),
            Some(("127.0.0.1", "/cb?x=1"))
        );
        for other in [
            "https://localhost:5001/cb",
            "http://localhost.evil.example/cb",
            "http://localhost:/cb",
            "http://localhost:123456/cb",
            "http://localhost:80@evil.example/",
            "http://127.0.0.10/cb",
            "http://LOCALHOST/cb",
        ] {
            assert_eq!(parts(other), None, "{other}");
        }
    }
}
