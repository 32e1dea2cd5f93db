use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::faults;
use crate::context::RequestContext;
use crate::error::Result;
use crate::keys::jwks;
use crate::mock::faults::{FaultEndpoint, Outcome, RequestFacts};
use crate::oauth::discovery::{self, MetadataVersion};
use crate::state::AppState;

/// Entra serves metadata and keys cacheable for a day, to any origin (a fault rule may say
/// otherwise).
fn document(body: actix_web::web::Bytes, cache_control: Option<String>) -> HttpResponse {
    // Static header values: nothing copied or checked per request. A fault rule's value was
    // checked as a header value when the rule was made.
    let cache_control = cache_control
        .and_then(|v| HeaderValue::try_from(v).ok())
        .unwrap_or_else(|| HeaderValue::from_static("max-age=86400, private"));
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        ))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, OPTIONS"),
        ))
        .body(body)
}

/// The cache key's name for a metadata version.
fn version_tag(version: MetadataVersion) -> &'static str {
    match version {
        MetadataVersion::V1 => "v1",
        MetadataVersion::V2 => "v2",
    }
}

/// A fault rule for a document: `Ok` with the answer it forces, or the `Cache-Control` and
/// whether to serve a stale key set.
async fn document_fault(
    state: &AppState,
    endpoint: FaultEndpoint,
) -> Result<(Option<String>, bool), HttpResponse> {
    match faults::check(state, endpoint, RequestFacts::default())
        .await
        .map(faults::respond)
    {
        Some(Ok(answer)) => Err(answer),
        Some(Err(Outcome::CacheControl { value })) => Ok((Some(value), false)),
        Some(Err(Outcome::StaleKeys)) => Ok((None, true)),
        _ => Ok((None, false)),
    }
}

async fn openid_configuration(
    state: &AppState,
    tenant: &str,
    version: MetadataVersion,
    query: &str,
) -> Result<HttpResponse> {
    let (cache_control, _) = match document_fault(state, FaultEndpoint::Discovery).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let t = state.directory().resolve_tenant(tenant)?;
    let generation = state.keys.snapshot().generation;
    let app = discovery::app_of_query(query);
    let body = RequestContext::with_current(|ctx| {
        let base = ctx.base_url.as_str();
        let render = || {
            discovery::openid_configuration(base, &t, version, state.settings.revocation_discovery)
        };
        match &app {
            // Rendered each time: any GUID may be asked, and the cache stays bounded.
            Some(appid) => web::Bytes::from(discovery::for_app(render(), appid).to_string()),
            None => {
                let key = ["oidc", version_tag(version), base, t.endpoint_segment()];
                state.documents.get_or_render(&key, generation, render)
            }
        }
    });
    Ok(document(body, cache_control))
}

pub async fn openid_configuration_v2(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    openid_configuration(&state, &tenant, MetadataVersion::V2, req.query_string()).await
}

pub async fn openid_configuration_v1(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    openid_configuration(&state, &tenant, MetadataVersion::V1, req.query_string()).await
}

async fn keys(state: &AppState, tenant: &str, version: MetadataVersion) -> Result<HttpResponse> {
    let (cache_control, stale) = match document_fault(state, FaultEndpoint::Jwks).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let t = state.directory().resolve_tenant(tenant)?;
    let snapshot = state.keys.snapshot();
    let tid = t.issuer_tid();
    let body = RequestContext::with_current(|ctx| {
        let base = ctx.base_url.as_str();
        let issuer = || discovery::issuer(base, tid, version);
        // Entra's v1 keys carry no `issuer`.
        let v2 = version == MetadataVersion::V2;
        if stale {
            // A stale key set (a cache or CDN behind on a rollover): without the signing key.
            let issuer = issuer();
            let key_issuer = v2.then_some(issuer.as_str());
            web::Bytes::from(jwks::render_without_active(&snapshot, key_issuer).to_string())
        } else {
            let key = ["jwks", version_tag(version), base, tid];
            state
                .documents
                .get_or_render(&key, snapshot.generation, || {
                    let issuer = issuer();
                    jwks::render(&snapshot, v2.then_some(issuer.as_str()))
                })
        }
    });
    Ok(document(body, cache_control))
}

pub async fn keys_v2(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse> {
    keys(&state, &tenant, MetadataVersion::V2).await
}

pub async fn keys_v1(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse> {
    keys(&state, &tenant, MetadataVersion::V1).await
}

#[derive(Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// MSAL's instance discovery: the tenant is taken from the authorization endpoint it asks about,
/// which must be on this host (AADSTS50049 otherwise, [`discovery::instance_segment`]).
pub async fn instance(
    state: web::Data<AppState>,
    query: web::Query<InstanceQuery>,
) -> Result<HttpResponse> {
    let base = RequestContext::current().base_url;
    let segment = discovery::instance_segment(&base, query.authorization_endpoint.as_deref())?;
    let t = state.directory().resolve_tenant(&segment)?;
    let body = serde_json::to_vec(&discovery::instance_discovery(&base, t.endpoint_segment()))
        .map_err(|e| crate::error::Error::Internal(e.into()))?;
    Ok(document(body.into(), None))
}
