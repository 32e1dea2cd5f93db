//! OpenID Provider metadata with the field set of a real Entra tenant (v2.0 and v1)
//! (<https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri>),
//! and MSAL's instance discovery answer.

use serde_json::{json, Value};

use crate::config::RevocationDiscovery;
use crate::directory::{ResolvedTenant, TenantScope};
use crate::error::{Error, Result};

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

/// The cloud Entra names in its documents: entra-mock answers as the public cloud does.
const CLOUD_INSTANCE_NAME: &str = "microsoftonline.com";
const CLOUD_GRAPH_HOST_NAME: &str = "graph.windows.net";
const MSGRAPH_HOST: &str = "graph.microsoft.com";
const RBAC_URL: &str = "https://pas.windows.net";

/// The app an `appid` query parameter names (a GUID, written canonically), when a discovery
/// request carries one.
pub fn app_of_query(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "appid")
        .and_then(|(_, v)| uuid::Uuid::try_parse(&v).ok())
        .map(|id| id.hyphenated().to_string())
}

/// The document asked for one app (`?appid=`): its `jwks_uri` names that app's key set, as Entra's
/// does for apps with custom signing keys (claims mapping; v2-protocols-oidc, "Find your app's
/// OpenID configuration document URI"). entra-mock has no app-specific keys: that key set is the
/// tenant's.
pub fn for_app(mut doc: Value, appid: &str) -> Value {
    if let Some(uri) = doc.get("jwks_uri").and_then(Value::as_str) {
        let uri = format!("{uri}?appid={appid}");
        doc["jwks_uri"] = Value::from(uri);
    }
    doc
}

/// The discovery document of a tenant: v2.0 (`/{tenant}/v2.0/.well-known/openid-configuration`)
/// or v1 (`/{tenant}/.well-known/openid-configuration`, which Microsoft.IdentityModel reads for v1
/// tokens), each with Entra's field set. `revocation` adds entra-mock's RFC 7009 endpoint.
pub fn openid_configuration(
    base: &str,
    t: &ResolvedTenant,
    version: MetadataVersion,
    revocation: RevocationDiscovery,
) -> Value {
    let seg = t.endpoint_segment();
    let region = match t.scope {
        TenantScope::Tenant => Value::from("WW"),
        _ => Value::Null,
    };
    // v2.0 paths, or v1's (`/oauth2/authorize`, `resource=`) in the v1 document.
    let v = match version {
        MetadataVersion::V2 => "/v2.0",
        MetadataVersion::V1 => "",
    };
    let mut doc = json!({
        "token_endpoint": format!("{base}/{seg}/oauth2{v}/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "issuer": issuer(base, t.issuer_tid(), version),
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{seg}/oauth2{v}/authorize"),
        // Both documents name it (v1: `/oauth2/devicecode`, as a real tenant's v1 document does).
        "device_authorization_endpoint": format!("{base}/{seg}/oauth2{v}/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{seg}/oauth2{v}/logout"),
        "kerberos_endpoint": format!("{base}/{seg}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": CLOUD_INSTANCE_NAME,
        "cloud_graph_host_name": CLOUD_GRAPH_HOST_NAME,
        "msgraph_host": MSGRAPH_HOST,
        "rbac_url": RBAC_URL,
    });
    let fields = match version {
        MetadataVersion::V2 => json!({
            "jwks_uri": format!("{base}/{seg}/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "request_uri_parameter_supported": false,
            "claims_supported": [
                "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                "name", "tid", "ver", "at_hash", "c_hash", "email"
            ],
        }),
        // The v1 document's own response types, scopes and claims.
        MetadataVersion::V1 => json!({
            // A real tenant's v1 document names the shared `common` key set, whatever the tenant
            // (the document of Microsoft's own tenant; AzureAD/MSIdentityTools' test fixture).
            "jwks_uri": format!("{base}/common/discovery/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "microsoft_multi_refresh_token": true,
            "claims_supported": [
                "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email",
                "given_name", "family_name", "nickname"
            ],
        }),
    };
    if let (Value::Object(doc), Value::Object(fields)) = (&mut doc, fields) {
        doc.extend(fields);
        if revocation == RevocationDiscovery::Advertised {
            doc.insert(
                "revocation_endpoint".into(),
                format!("{base}/{seg}/oauth2/v2.0/revoke").into(),
            );
        }
    }
    doc
}

/// `GET /common/discovery/instance`: tells MSAL that this host is its own cloud.
/// The tenant segment of the authorization endpoint MSAL asks instance discovery about (`common`
/// when it names none). An endpoint on another host is an instance entra-mock does not know:
/// Entra answers `invalid_instance`, AADSTS50049
/// (<https://learn.microsoft.com/entra/msal/dotnet/advanced/custom-authority-aliases>: "if a
/// non-existent authority is used, then Microsoft Entra ID returns an invalid_instance error"),
/// and MSAL refuses the authority.
pub fn instance_segment(base: &str, authorization_endpoint: Option<&str>) -> Result<String> {
    let Some(endpoint) = authorization_endpoint else {
        return Ok("common".to_string());
    };
    let ours = base.split("://").nth(1).unwrap_or(base);
    let asked = url::Url::parse(endpoint).ok().filter(|u| {
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        let host = u.host_str().unwrap_or("");
        format!("{host}{port}").eq_ignore_ascii_case(ours)
    });
    let Some(asked) = asked else {
        return Err(Error::UnknownInstance);
    };
    Ok(asked
        .path_segments()
        .and_then(|mut s| s.next().map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "common".to_string()))
}

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
