//! The slice of Microsoft Graph entra-mock serves: `POST /v1.0/users/{id}/revokeSignInSessions`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::context::RequestContext;
use crate::error::Result;
use crate::oauth::revocation;
use crate::state::AppState;

pub async fn revoke_sign_in_sessions(
    state: web::Data<AppState>,
    user: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = RequestContext::current();
    let user = user.into_inner();
    Ok(
        match revocation::revoke_sign_in_sessions(&state, &user, ctx.now.unix_timestamp()).await? {
            Some(()) => HttpResponse::Ok().json(json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
                "value": true,
            })),
            // Graph's error shape, not the identity platform's.
            None => HttpResponse::NotFound().json(json!({
                "error": {
                    "code": "Request_ResourceNotFound",
                    "message": format!("Resource '{user}' does not exist or one of its queried reference-property objects are not present."),
                    "innerError": {
                        "date": ctx.now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                        "request-id": ctx.trace_id.to_string(),
                        "client-request-id": ctx.correlation_id,
                    }
                }
            })),
        },
    )
}
