//! The test-control API under `/_mock/` (JSON in and out): the virtual clock and users' current
//! TOTP codes. With
//! `--admin-token`, every call needs `Authorization: Bearer <token>` ([`MockAdmin`]).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::http::header;
use crate::clock::Clock;
use crate::error::ErrorBody;
use crate::error::{Error, Result};
use crate::keys::rotation::Phase;
use crate::mock;
use crate::mock::directory::Collection;
use crate::mock::faults::{NewFault, Rule};
use crate::mock::keys::KeyList;
use crate::mock::requests::Filter;
use crate::mock::signin::{SignInRequest, SignedIn};
use crate::mock::tokens::{MintRequest, Minted};
use crate::state::AppState;

/// Proof that a request may use `/_mock/`: always, unless an admin token is configured, in which
/// case the request must carry it as a bearer token (compared in constant time).
pub struct MockAdmin;

impl FromRequest for MockAdmin {
    type Error = actix_web::Error;
    type Future = Ready<std::result::Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let allowed = match req
            .app_data::<web::Data<AppState>>()
            .and_then(|s| s.settings.admin_token.clone())
        {
            None => true,
            Some(token) => header(req, "Authorization")
                .and_then(|h| h.strip_prefix("Bearer ").map(str::to_string))
                .is_some_and(|presented| token.ct_eq(&presented)),
        };
        ready(if allowed {
            Ok(MockAdmin)
        } else {
            Err(Error::MockUnauthorized.into())
        })
    }
}

/// The virtual clock: `now` (Unix seconds) and its `offset` from real time.
#[derive(utoipa::ToSchema, Serialize)]
pub struct ClockState {
    now: i64,
    offset: i64,
}

/// `POST /_mock/clock`: move the clock by `advance` seconds, or set its `offset`.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    advance: Option<i64>,
    offset: Option<i64>,
}

fn clock_state(state: &AppState) -> HttpResponse {
    HttpResponse::Ok().json(ClockState {
        now: state.clock.unix(),
        offset: state.clock.offset(),
    })
}

#[utoipa::path(get, path = "/_mock/clock", tag = "clock", responses((status = 200, body = ClockState), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn get_clock(_: MockAdmin, state: web::Data<AppState>) -> HttpResponse {
    clock_state(&state)
}

#[utoipa::path(post, path = "/_mock/clock", tag = "clock", request_body = ClockChange, responses((status = 200, body = ClockState), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn set_clock(
    _: MockAdmin,
    state: web::Data<AppState>,
    change: web::Json<ClockChange>,
) -> Result<HttpResponse> {
    let offset = match (change.advance, change.offset) {
        (Some(secs), None) => state.clock.offset().saturating_add(secs),
        (None, Some(secs)) => secs,
        _ => {
            return Err(Error::InvalidParameter {
                name: "body",
                reason: "give exactly one of 'advance' and 'offset' (seconds).".into(),
            })
        }
    };
    if !Clock::in_range(offset) {
        return Err(Error::InvalidParameter {
            name: "body",
            reason:
                "the clock may move to any time from 1970-01-01 to 4000-01-01 (UTC), not further."
                    .into(),
        });
    }
    match change.advance {
        Some(secs) => state.clock.advance(secs),
        None => state.clock.set_offset(offset),
    }
    Ok(clock_state(&state))
}

#[utoipa::path(delete, path = "/_mock/clock", tag = "clock", responses((status = 200, body = ClockState), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn reset_clock(_: MockAdmin, state: web::Data<AppState>) -> HttpResponse {
    state.clock.set_offset(0);
    clock_state(&state)
}

/// `GET /_mock/users/{upn}/totp`: the user's current one-time code, by the virtual clock.
#[derive(utoipa::ToSchema, Serialize)]
pub struct TotpNow {
    code: String,
    expires_in: i64,
}

#[utoipa::path(get, path = "/_mock/users/{user}/totp", tag = "users", params(("user" = String, Path, description = "Object id or UPN")), responses((status = 200, body = TotpNow), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn user_totp(
    _: MockAdmin,
    state: web::Data<AppState>,
    user: web::Path<String>,
) -> Result<HttpResponse> {
    let (code, expires_in) = mock::current_totp(&state, &user)
        .await?
        .ok_or_else(|| Error::NotFound(format!("a TOTP method of user '{user}'")))?;
    Ok(HttpResponse::Ok().json(TotpNow { code, expires_in }))
}

#[utoipa::path(get, path = "/_mock/keys", tag = "keys", responses((status = 200, body = KeyList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn list_keys(_: MockAdmin, state: web::Data<AppState>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(mock::keys::list(&state).await?))
}

/// `POST /_mock/keys/rotate {"phase": "publish" | "activate" | "retire" | "roll-now"}`.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    phase: Phase,
}

#[utoipa::path(post, path = "/_mock/keys/rotate", tag = "keys", request_body = Rotate, responses((status = 200, body = KeyList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn rotate_keys(
    _: MockAdmin,
    state: web::Data<AppState>,
    body: web::Json<Rotate>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(mock::keys::rotate(&state, body.phase).await?))
}

/// `POST /_mock/faults`: adds a rule; answers it with its `id`.
#[utoipa::path(post, path = "/_mock/faults", tag = "faults", request_body = NewFault, responses((status = 201, body = Rule), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn add_fault(
    _: MockAdmin,
    state: web::Data<AppState>,
    body: web::Json<NewFault>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(state.faults.add(body.into_inner())?))
}

#[derive(utoipa::ToSchema, Serialize)]
struct FaultList {
    faults: Vec<mock::faults::Rule>,
}

#[utoipa::path(get, path = "/_mock/faults", tag = "faults", responses((status = 200, body = FaultList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn list_faults(_: MockAdmin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(FaultList {
        faults: state.faults.list(),
    })
}

/// `DELETE /_mock/faults`: removes every rule.
#[utoipa::path(delete, path = "/_mock/faults", tag = "faults", responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn clear_faults(_: MockAdmin, state: web::Data<AppState>) -> HttpResponse {
    state.faults.remove(None);
    HttpResponse::NoContent().finish()
}

/// `DELETE /_mock/faults/{id}`.
#[utoipa::path(delete, path = "/_mock/faults/{id}", tag = "faults", params(("id" = u64, Path)), responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn remove_fault(
    _: MockAdmin,
    state: web::Data<AppState>,
    id: web::Path<u64>,
) -> Result<HttpResponse> {
    if state.faults.remove(Some(*id)) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Error::NotFound(format!("fault rule {id}")))
    }
}

/// `POST /_mock/tokens`: a minted access, ID or refresh token.
#[utoipa::path(post, path = "/_mock/tokens", tag = "tokens", request_body = MintRequest, responses((status = 200, body = Minted), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn mint_token(
    _: MockAdmin,
    state: web::Data<AppState>,
    body: web::Json<mock::tokens::MintRequest>,
) -> Result<HttpResponse> {
    let ctx = crate::context::RequestContext::current();
    let minted = mock::tokens::mint(
        &state,
        body.into_inner(),
        &ctx.base_url,
        ctx.now.unix_timestamp(),
    )
    .await?;
    Ok(super::http::no_store(HttpResponse::Ok()).json(minted))
}

/// `GET /_mock/federation/.well-known/openid-configuration`: the test issuer's discovery
/// document. Public, as a CI provider's is: entra-mock itself fetches it to check a federated
/// credential.
#[utoipa::path(get, path = "/_mock/federation/.well-known/openid-configuration", tag = "federation", responses((status = 200, description = "The test issuer's OIDC discovery document")))]
pub async fn federation_discovery() -> HttpResponse {
    let ctx = crate::context::RequestContext::current();
    HttpResponse::Ok().json(mock::federation::discovery(&ctx.base_url))
}

/// `GET /_mock/federation/keys`: the test issuer's JWKS (public).
#[utoipa::path(get, path = "/_mock/federation/keys", tag = "federation", responses((status = 200, description = "The test issuer's JWKS")))]
pub async fn federation_keys(state: web::Data<AppState>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(mock::federation::keys(state.clock.unix()).await?))
}

/// `POST /_mock/federation/token`: a token of the test issuer, as a CI job's OIDC token.
#[utoipa::path(post, path = "/_mock/federation/token", tag = "federation", request_body = mock::federation::FederationTokenRequest, responses((status = 200, body = mock::federation::FederationToken), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn federation_token(
    _: MockAdmin,
    body: web::Json<mock::federation::FederationTokenRequest>,
) -> Result<HttpResponse> {
    let ctx = crate::context::RequestContext::current();
    let minted =
        mock::federation::mint(body.into_inner(), &ctx.base_url, ctx.now.unix_timestamp()).await?;
    Ok(super::http::no_store(HttpResponse::Ok()).json(minted))
}

/// `POST /_mock/signin`: a user signed in without pages; answers the authorization code.
#[utoipa::path(post, path = "/_mock/signin", tag = "signin", request_body = SignInRequest, responses((status = 200, body = SignedIn), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn sign_in(
    _: MockAdmin,
    state: web::Data<AppState>,
    body: web::Json<mock::signin::SignInRequest>,
) -> Result<HttpResponse> {
    let now = state.clock.unix();
    let signed_in = mock::signin::sign_in(&state, body.into_inner(), now).await?;
    Ok(super::http::no_store(HttpResponse::Ok()).json(signed_in))
}

#[derive(utoipa::ToSchema, Serialize)]
struct RequestList {
    requests: Vec<mock::requests::Entry>,
}

/// `GET /_mock/requests?endpoint=&client_id=&grant_type=&error_code=&after=&limit=`.
#[utoipa::path(get, path = "/_mock/requests", tag = "requests", params(Filter), responses((status = 200, body = RequestList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn list_requests(
    _: MockAdmin,
    state: web::Data<AppState>,
    filter: web::Query<mock::requests::Filter>,
) -> HttpResponse {
    HttpResponse::Ok().json(RequestList {
        requests: state.requests.list(&filter),
    })
}

#[utoipa::path(delete, path = "/_mock/requests", tag = "requests", responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn clear_requests(_: MockAdmin, state: web::Data<AppState>) -> HttpResponse {
    state.requests.clear();
    HttpResponse::NoContent().finish()
}

#[derive(utoipa::ToSchema, Serialize)]
struct FindingList {
    findings: Vec<mock::requests::Finding>,
}

/// `GET /_mock/findings`: what the client under test did wrong, by the request log.
#[utoipa::path(get, path = "/_mock/findings", tag = "requests", responses((status = 200, body = FindingList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn findings(_: MockAdmin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(FindingList {
        findings: state.requests.findings(),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    tenant: Option<String>,
}

fn collection(path: &str) -> Result<Collection> {
    Collection::parse(path).ok_or_else(|| Error::NotFound(format!("/_mock/{path}")))
}

/// `GET /_mock/{users|applications|groups|assignments}`: the entries, in the fixture format.
#[utoipa::path(get, path = "/_mock/{collection}", tag = "directory", params(("collection" = String, Path, description = "users, applications, groups or assignments")), responses((status = 200, description = "The entries, in the fixture format", body = Vec<Object>), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn list_entries(
    _: MockAdmin,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    let c = collection(&name)?;
    Ok(HttpResponse::Ok().json(mock::directory::list(&state, c).await?))
}

/// `POST /_mock/{collection}[?tenant=]`: adds an entry in the fixture format; usable at once.
#[utoipa::path(post, path = "/_mock/{collection}", tag = "directory", params(("collection" = String, Path, description = "users, applications, groups or assignments"), TenantQuery), request_body(content = Object, description = "An entry in the fixture format (camelCase JSON)"), responses((status = 201, body = Object), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn create_entry(
    _: MockAdmin,
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<TenantQuery>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse> {
    let c = collection(&name)?;
    let created =
        mock::directory::create(&state, c, query.tenant.as_deref(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// `PATCH /_mock/{collection}/{key}`: changes fields (`null` removes one).
#[utoipa::path(patch, path = "/_mock/{collection}/{key}", tag = "directory", params(("collection" = String, Path), ("key" = String, Path, description = "id or UPN, appId or name, group id or name, principal|resource|role")), request_body(content = Object, description = "Fields to change; null removes one"), responses((status = 200, body = Object), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn patch_entry(
    _: MockAdmin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse> {
    let (name, key) = path.into_inner();
    let c = collection(&name)?;
    let changed = mock::directory::patch(&state, c, &key, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(changed))
}

/// `DELETE /_mock/{collection}/{key}`.
#[utoipa::path(delete, path = "/_mock/{collection}/{key}", tag = "directory", params(("collection" = String, Path), ("key" = String, Path)), responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn delete_entry(
    _: MockAdmin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, key) = path.into_inner();
    let c = collection(&name)?;
    mock::directory::delete(&state, c, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[serde(default)]
    keys: bool,
}

/// `POST /_mock/reset {"keys"?}`: everything back to the fixtures.
#[utoipa::path(post, path = "/_mock/reset", tag = "directory", request_body(content = ResetRequest, description = "Optional"), responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn reset(
    _: MockAdmin,
    state: web::Data<AppState>,
    body: Option<web::Json<ResetRequest>>,
) -> Result<HttpResponse> {
    let keys = body.is_some_and(|b| b.keys);
    mock::directory::reset(&state, keys).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(utoipa::ToSchema, Serialize)]
struct SessionList {
    sessions: Vec<mock::sessions::SessionView>,
}

#[utoipa::path(get, path = "/_mock/sessions", tag = "sessions", responses((status = 200, body = SessionList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn list_sessions(_: MockAdmin, state: web::Data<AppState>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(SessionList {
        sessions: mock::sessions::sessions(&state).await?,
    }))
}

#[utoipa::path(delete, path = "/_mock/sessions/{id}", tag = "sessions", params(("id" = String, Path)), responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn end_session(
    _: MockAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    mock::sessions::end_session(&state, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(utoipa::ToSchema, Serialize)]
struct FamilyList {
    families: Vec<crate::store::refresh::FamilySummary>,
}

#[utoipa::path(get, path = "/_mock/refresh-tokens", tag = "sessions", responses((status = 200, body = FamilyList), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody)))]
pub async fn list_families(_: MockAdmin, state: web::Data<AppState>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(FamilyList {
        families: mock::sessions::families(&state).await?,
    }))
}

#[utoipa::path(delete, path = "/_mock/refresh-tokens/{family}", tag = "sessions", params(("family" = String, Path)), responses((status = 204), (status = 400, description = "Refused, in Entra's error shape", body = ErrorBody), (status = 401, description = "The admin token is missing or wrong", body = ErrorBody), (status = 404, description = "No such entry", body = ErrorBody)))]
pub async fn revoke_family(
    _: MockAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    mock::sessions::revoke_family(&state, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
