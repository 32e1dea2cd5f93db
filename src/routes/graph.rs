//! `POST /v1.0/users/{id}/revokeSignInSessions` and `POST /v1.0/me/revokeSignInSessions`
//! (Microsoft Graph) and their unauthenticated test-control twin
//! `POST /_mock/users/{id}/revokeSignInSessions`.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use super::http::header;
use crate::context::RequestContext;
use crate::oauth::graph::{self, GraphError, Target};
use crate::oauth::revocation;
use crate::state::AppState;

pub async fn revoke_sign_in_sessions(
    state: web::Data<AppState>,
    user: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    revoke(&state, &req, Target::User(&user)).await
}

pub async fn revoke_my_sign_in_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    revoke(&state, &req, Target::Me).await
}

async fn revoke(state: &AppState, req: &HttpRequest, target: Target<'_>) -> HttpResponse {
    let ctx = RequestContext::current();
    let bearer =
        header(req, "Authorization").and_then(|h| h.strip_prefix("Bearer ").map(str::to_string));
    let result = graph::revoke_sign_in_sessions(
        state,
        bearer.as_deref(),
        target,
        &ctx.base_url,
        ctx.now.unix_timestamp(),
    )
    .await;
    match result {
        Ok(()) => revoked(),
        Err(e) => graph_error(&ctx, e),
    }
}

/// The test-control convenience: the same revocation without a Graph token.
#[utoipa::path(post, path = "/_mock/users/{user}/revokeSignInSessions", tag = "users",
    params(("user" = String, Path, description = "Object id or UPN")),
    responses((status = 200, description = "Graph's answer: {\"value\": true}"),
        (status = 404, description = "No such user, in Graph's error shape")))]
pub async fn mock_revoke_sign_in_sessions(
    _: super::mock::MockAdmin,
    state: web::Data<AppState>,
    user: web::Path<String>,
) -> HttpResponse {
    let ctx = RequestContext::current();
    let now = ctx.now.unix_timestamp();
    match revocation::revoke_sign_in_sessions(&state, &user, now).await {
        Ok(Some(())) => revoked(),
        Ok(None) => graph_error(&ctx, GraphError::UserNotFound(user.into_inner())),
        Err(e) => e.error_response(),
    }
}

fn revoked() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
        "value": true,
    }))
}

/// Graph's error shape, not the identity platform's
/// (<https://learn.microsoft.com/graph/errors>).
fn graph_error(ctx: &RequestContext, e: GraphError) -> HttpResponse {
    let (mut res, code, message) = match e {
        GraphError::Unauthenticated(m) => (
            HttpResponse::Unauthorized(),
            "InvalidAuthenticationToken",
            m.to_string(),
        ),
        GraphError::Forbidden => (
            HttpResponse::Forbidden(),
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.".to_string(),
        ),
        GraphError::UserNotFound(user) => (
            HttpResponse::NotFound(),
            "Request_ResourceNotFound",
            format!("Resource '{user}' does not exist or one of its queried reference-property objects are not present."),
        ),
        GraphError::MeWithoutUser => (
            HttpResponse::BadRequest(),
            "BadRequest",
            "/me request is only valid with delegated authentication flow.".to_string(),
        ),
        GraphError::Internal(e) => return e.error_response(),
    };
    res.json(json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": ctx.now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "request-id": ctx.trace_id.to_string(),
                "client-request-id": ctx.correlation_id,
            }
        }
    }))
}
