//! Managed identity (issue 13 item 7): the token endpoints code running in Azure asks instead of
//! Entra, served by entra-mock for the identities the fixtures declare
//! (`mock.managedIdentity = "systemAssigned" | "userAssigned"`):
//! - App Service / Azure Functions: `GET {IDENTITY_ENDPOINT}?resource=...&api-version=2019-08-01`
//!   with the `X-IDENTITY-HEADER` header equal to `IDENTITY_HEADER`
//!   (<https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>);
//! - the Instance Metadata Service: `GET /metadata/identity/oauth2/token?resource=...` with
//!   `Metadata: true`
//!   (<https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>).
//!
//! Without `client_id` / `object_id` (IMDS) or `client_id` / `principal_id` (App Service) the
//! system-assigned identity answers. The token is an app-only token for `resource`, with the
//! app roles the identity was granted, as for client credentials.

use serde::Serialize;

use crate::directory::{Application, ManagedIdentity};
use crate::error::{Error, Result};
use crate::oauth::claims::{self, AccessTokenInput, AuthMethod, Subject};
use crate::oauth::grants::scopes;
use crate::state::AppState;

/// The value `X-IDENTITY-HEADER` must carry (well known, like every entra-mock secret).
pub const IDENTITY_HEADER: &str = "identity-header-local-dev-only";

/// Which of the two protocols a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    AppService,
    Imds,
}

/// A token request, parsed from the query and the protocol's header.
#[derive(Debug)]
pub struct Request {
    pub protocol: Protocol,
    pub resource: Option<String>,
    pub api_version: Option<String>,
    /// `client_id` of a user-assigned identity.
    pub client_id: Option<String>,
    /// `object_id` (IMDS) or `principal_id` (App Service): the identity's service principal.
    pub object_id: Option<String>,
    /// `msi_res_id` (IMDS) or `mi_res_id` (App Service): the identity's Azure resource id.
    pub resource_id: Option<String>,
    /// Whether the protocol's header was sent with the right value.
    pub header_ok: bool,
}

/// The answer, in the shape of the protocol asked: App Service's five fields, or IMDS's with
/// the lifetimes as strings.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub access_token: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    pub expires_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_expires_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    pub resource: String,
    pub token_type: &'static str,
}

pub fn token(state: &AppState, base_url: &str, now: i64, req: Request) -> Result<Answer> {
    if !req.header_ok {
        // The IMDS error table (how-to-use-vm-token, "Error handling"): bad_request_102.
        return Err(match req.protocol {
            Protocol::Imds => Error::ManagedIdentityRequest {
                status: 400,
                error: "bad_request_102",
                reason: "Required metadata header not specified".into(),
            },
            Protocol::AppService => Error::ManagedIdentityRequest {
                status: 400,
                error: "invalid_request",
                reason: format!(
                    "the X-IDENTITY-HEADER header must carry IDENTITY_HEADER ({IDENTITY_HEADER})"
                ),
            },
        });
    }
    if req.api_version.as_deref().is_none_or(str::is_empty) {
        return Err(Error::MissingParameter("api-version"));
    }
    let resource = req
        .resource
        .filter(|r| !r.trim().is_empty())
        .ok_or(Error::MissingParameter("resource"))?;
    let directory = state.directory();
    let identity = select(
        directory.applications.values().map(|a| a.as_ref()),
        &Named {
            client_id: req.client_id.as_deref(),
            object_id: req.object_id.as_deref(),
            resource_id: req.resource_id.as_deref(),
        },
    )?
    .clone();
    // Azure SDKs pass resources with or without a trailing slash; a scope is `{resource}/.default`.
    let scope = format!("{}/.default", resource.trim_end_matches('/'));
    let (target, roles) = scopes::app_only(&directory, &identity, &scope)?;
    let keys = state.keys.snapshot();
    let access = claims::mint_access_token(
        &keys,
        &AccessTokenInput {
            base_url,
            directory: &directory,
            tid: &identity.tenant_id,
            client: &identity,
            // Managed identities authenticate with a certificate Azure holds for them.
            client_auth: AuthMethod::Certificate,
            target: &target,
            subject: Subject::App { roles },
            delivery: crate::oauth::claims::Delivery::TokenResponse,
            now,
        },
    )?;
    let imds = req.protocol == Protocol::Imds;
    Ok(Answer {
        access_token: access.token,
        client_id: identity.client_id.clone(),
        expires_in: imds.then(|| access.expires_in.to_string()),
        expires_on: (now + access.expires_in).to_string(),
        ext_expires_in: imds.then(|| access.expires_in.to_string()),
        not_before: imds.then(|| crate::oauth::claims::backdated(now).to_string()),
        resource,
        token_type: "Bearer",
    })
}

/// How a request names its identity.
struct Named<'a> {
    client_id: Option<&'a str>,
    object_id: Option<&'a str>,
    /// An Azure resource id (`/subscriptions/.../userAssignedIdentities/{name}`): entra-mock's
    /// identities have no subscription, so the last segment names the fixture's application.
    resource_id: Option<&'a str>,
}

/// The identity a request names, else the system-assigned one ("If all ID parameters ... are
/// omitted, the system-assigned identity is used", App Service's REST endpoint reference).
fn select<'a>(
    mut identities: impl Iterator<Item = &'a Application>,
    n: &Named<'_>,
) -> Result<&'a Application> {
    let resource_name = n
        .resource_id
        .map(|r| r.trim_end_matches('/').rsplit('/').next());
    let found = identities.find(|a| {
        let Some(kind) = a.managed_identity else {
            return false;
        };
        match (n.client_id, n.object_id, resource_name) {
            (Some(c), _, _) => a.client_id.eq_ignore_ascii_case(c),
            (None, Some(o), _) => a.service_principal_id.eq_ignore_ascii_case(o),
            (None, None, Some(name)) => {
                kind == ManagedIdentity::UserAssigned
                    && name.is_some_and(|name| a.name.eq_ignore_ascii_case(name))
            }
            (None, None, None) => kind == ManagedIdentity::SystemAssigned,
        }
    });
    found.ok_or_else(|| Error::ManagedIdentityRequest {
        status: 400,
        error: "invalid_request",
        reason: match (n.client_id, n.object_id, n.resource_id) {
            (None, None, None) => {
                "Identity not found: no system-assigned identity is declared".into()
            }
            _ => "Identity not found".into(),
        },
    })
}

/// An error as the protocol's endpoint answers it, not in Entra's shape: App Service's
/// `{"statusCode", "message", "correlationId"}` (MSAL Python reads `statusCode` and `message`;
/// Azure/azure-sdk-for-net issue 43691 quotes a real one), IMDS's `{"error",
/// "error_description"}` (how-to-use-vm-token, "Error handling": `bad_request_102` for the
/// missing header; MicrosoftDocs/azure-docs issue 21322 quotes "Identity not found"). Entra's own
/// refusals (an unknown resource) keep their AADSTS number in the text.
pub fn error_body(protocol: Protocol, e: &Error, correlation_id: &str) -> (u16, serde_json::Value) {
    let spec = e.spec();
    let status = spec.status.as_u16();
    let local = matches!(
        e,
        Error::ManagedIdentityRequest { .. } | Error::MissingParameter(_)
    );
    let text = match local {
        true => e.to_string(),
        false => format!("AADSTS{}: {e}", spec.code),
    };
    let body = match protocol {
        Protocol::AppService => serde_json::json!({
            "statusCode": status,
            "message": text,
            "correlationId": correlation_id,
        }),
        Protocol::Imds => {
            let error = match e {
                Error::ManagedIdentityRequest { error, .. } => error,
                _ => spec.error,
            };
            serde_json::json!({ "error": error, "error_description": text })
        }
    };
    (status, body)
}
