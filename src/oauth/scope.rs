//! The one scope parser, for `/authorize` and the token endpoint alike
//! (<https://learn.microsoft.com/entra/identity-platform/scopes-oidc>): OpenID Connect scopes
//! (`openid`, `profile`, `email`, `offline_access`), then resource scopes `{resource}/{value}`,
//! where a bare value is a Microsoft Graph scope. Names compare case-insensitively, as Entra
//! does; a resource no registration exposes is AADSTS500011 and a value the resource does not
//! expose AADSTS70011 (AADSTS650053 at `/authorize`). `/authorize` accepts scopes of several
//! resources (consent for all of them); a token is for one resource (the grants' rule,
//! AADSTS28000).

use std::sync::Arc;

use crate::directory::{Application, Directory};
use crate::error::{Error, Result};

/// Microsoft Graph's application id: the audience of tokens for Graph scopes (`User.Read`, and
/// the token Entra returns when only OpenID scopes were asked for).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The names a request may use for Microsoft Graph.
const GRAPH_URIS: [&str; 2] = ["https://graph.microsoft.com", GRAPH_APP_ID];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OidcScopes {
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub offline_access: bool,
}

impl OidcScopes {
    pub fn any(&self) -> bool {
        self.openid || self.profile || self.email || self.offline_access
    }

    /// Whether `s` is one of the OpenID scopes (any case), not a resource's.
    pub fn is_oidc(s: &str) -> bool {
        ["openid", "profile", "email", "offline_access"]
            .iter()
            .any(|o| o.eq_ignore_ascii_case(s))
    }
}

/// The resource a scope belongs to.
#[derive(Debug, Clone)]
pub enum Resource {
    Graph,
    Api(Arc<Application>),
}

impl Resource {
    pub fn id(&self) -> &str {
        match self {
            Resource::Graph => GRAPH_APP_ID,
            Resource::Api(a) => &a.client_id,
        }
    }
}

/// How a request wrote a resource scope: a bare value (a Graph scope, `User.Read`) or
/// `{prefix}/{value}`. Entra answers each scope in the form it was asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Bare,
    Prefixed,
}

/// One resource scope: `{prefix}/{value}` as the client named it, resolved.
#[derive(Debug, Clone)]
pub struct ResourceScope {
    pub resource: Resource,
    /// The resource as the request named it (App ID URI, client id, Graph's URL); Graph's URL
    /// for a bare value.
    pub prefix: String,
    pub written: Written,
    /// `.default`, or the value as the resource registered it (case normalised).
    pub value: String,
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    pub oidc: OidcScopes,
    pub resource_scopes: Vec<ResourceScope>,
}

pub fn is_graph(resource: &str) -> bool {
    GRAPH_URIS
        .iter()
        .any(|g| g.eq_ignore_ascii_case(resource.trim_end_matches('/')))
}

/// The resource a prefix names (AADSTS500011 when none).
pub fn find_resource(directory: &Directory, id: &str) -> Result<Resource> {
    if is_graph(id) {
        return Ok(Resource::Graph);
    }
    directory
        .resource(id)
        .or_else(|| directory.resource(id.trim_end_matches('/')))
        .cloned()
        .map(Resource::Api)
        .ok_or_else(|| Error::ResourceNotFound(id.to_string()))
}

/// Parses and resolves a `scope` parameter. An empty one is a missing parameter (AADSTS900144).
pub fn parse(directory: &Directory, scope: &str) -> Result<Scopes> {
    let mut out = Scopes::default();
    for s in scope.split_whitespace() {
        let oidc = &mut out.oidc;
        match s.to_ascii_lowercase().as_str() {
            "openid" => oidc.openid = true,
            "profile" => oidc.profile = true,
            "email" => oidc.email = true,
            "offline_access" => oidc.offline_access = true,
            _ => out.resource_scopes.push(resource_scope(directory, s)?),
        }
    }
    if !out.oidc.any() && out.resource_scopes.is_empty() {
        return Err(Error::MissingParameter("scope"));
    }
    // "Clients can't combine static (.default) consent and dynamic consent in a single request"
    // (scopes-oidc, "The .default scope").
    let static_consent = out.resource_scopes.iter().any(|s| s.value == ".default");
    if static_consent && out.resource_scopes.iter().any(|s| s.value != ".default") {
        return Err(Error::InvalidScope(scope.to_string()));
    }
    Ok(out)
}

fn resource_scope(directory: &Directory, s: &str) -> Result<ResourceScope> {
    let (prefix, value, written) = match s.rsplit_once('/') {
        Some((p, v)) if !p.is_empty() => (p, v, Written::Prefixed),
        _ => ("https://graph.microsoft.com", s, Written::Bare),
    };
    if value.is_empty() {
        return Err(Error::InvalidScope(s.to_string()));
    }
    let resource = find_resource(directory, prefix)?;
    let value = match &resource {
        _ if value == ".default" => value.to_string(),
        Resource::Graph => value.to_string(),
        Resource::Api(api) => api
            .scopes
            .iter()
            .find(|v| v.eq_ignore_ascii_case(value))
            .cloned()
            .ok_or_else(|| Error::UnexposedScope {
                scope: s.to_string(),
                value: value.to_string(),
                resource_id: api.client_id.clone(),
            })?,
    };
    Ok(ResourceScope {
        resource,
        prefix: prefix.to_string(),
        written,
        value,
    })
}
