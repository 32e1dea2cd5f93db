//! OpenID Provider metadata with the field set of a real Entra tenant
//! (<https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri>),
//! and MSAL's instance discovery answer.

use serde_json::{json, Value};

use crate::directory::{ResolvedTenant, TenantScope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataVersion {
    V1,
    V2,
}

/// The issuer of tokens of `version` for a tenant id (or the `{tenantid}` template).
pub fn issuer(base: &str, tid: &str, version: MetadataVersion) -> String {
    match version {
        MetadataVersion::V2 => format!("{base}/{tid}/v2.0"),
        MetadataVersion::V1 => format!("{base}/{tid}/"),
    }
}

pub fn openid_configuration(base: &str, t: &ResolvedTenant, version: MetadataVersion) -> Value {
    let seg = t.endpoint_segment();
    let iss = issuer(base, t.issuer_tid(), version);
    let host = base.split("://").nth(1).unwrap_or(base);
    let jwks_uri = match version {
        MetadataVersion::V2 => format!("{base}/{seg}/discovery/v2.0/keys"),
        MetadataVersion::V1 => format!("{base}/{seg}/discovery/keys"),
    };
    let region = match t.scope {
        TenantScope::Tenant => Value::from("WW"),
        _ => Value::Null,
    };
    json!({
        "token_endpoint": format!("{base}/{seg}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": jwks_uri,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": iss,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{seg}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{seg}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{seg}/oauth2/v2.0/logout"),
        // Not in Entra's document: RFC 7009 revocation is an entra-mock extension.
        "revocation_endpoint": format!("{base}/{seg}/oauth2/v2.0/revoke"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{base}/{seg}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
        "rbac_url": base,
    })
}

/// `GET /common/discovery/instance`: tells MSAL that this host is its own cloud.
pub fn instance_discovery(base: &str, tenant_segment: &str) -> Value {
    let host = base.split("://").nth(1).unwrap_or(base);
    json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant_segment}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    })
}
