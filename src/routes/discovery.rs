use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::context::RequestContext;
use crate::error::Result;
use crate::keys::jwks;
use crate::oauth::discovery::{self, MetadataVersion};
use crate::state::AppState;

/// Entra serves metadata and keys cacheable for a day, to any origin.
fn document(body: actix_web::web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=86400, private"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "GET, OPTIONS"))
        .body(body)
}

fn openid_configuration(
    state: &AppState,
    tenant: &str,
    version: MetadataVersion,
) -> Result<HttpResponse> {
    let t = state.directory.resolve_tenant(tenant)?;
    let base = RequestContext::current().base_url;
    let generation = state.keys.snapshot().generation;
    let key = format!("oidc|{version:?}|{base}|{}", t.endpoint_segment());
    let body = state.documents.get_or_render(&key, generation, || {
        discovery::openid_configuration(&base, &t, version, state.settings.revocation_discovery)
    });
    Ok(document(body))
}

pub async fn openid_configuration_v2(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse> {
    openid_configuration(&state, &tenant, MetadataVersion::V2)
}

pub async fn openid_configuration_v1(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse> {
    openid_configuration(&state, &tenant, MetadataVersion::V1)
}

fn keys(state: &AppState, tenant: &str, version: MetadataVersion) -> Result<HttpResponse> {
    let t = state.directory.resolve_tenant(tenant)?;
    let base = RequestContext::current().base_url;
    let snapshot = state.keys.snapshot();
    let issuer = discovery::issuer(&base, t.issuer_tid(), version);
    let key = format!("jwks|{issuer}");
    let body = state
        .documents
        .get_or_render(&key, snapshot.generation, || {
            // Entra's v1 keys carry no `issuer`.
            let issuer = (version == MetadataVersion::V2).then_some(issuer.as_str());
            jwks::render(&snapshot, issuer)
        });
    Ok(document(body))
}

pub async fn keys_v2(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse> {
    keys(&state, &tenant, MetadataVersion::V2)
}

pub async fn keys_v1(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse> {
    keys(&state, &tenant, MetadataVersion::V1)
}

#[derive(Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// MSAL's instance discovery: the tenant is taken from the authorization endpoint it asks about.
pub async fn instance(
    state: web::Data<AppState>,
    query: web::Query<InstanceQuery>,
) -> Result<HttpResponse> {
    let base = RequestContext::current().base_url;
    let segment = query
        .authorization_endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_string))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "common".to_string());
    let t = state.directory.resolve_tenant(&segment)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(discovery::instance_discovery(&base, t.endpoint_segment())))
}
