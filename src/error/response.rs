//! How an [`Error`] goes on the wire: the JSON body of Microsoft's identity platform (AADSTS
//! code, message, trace and correlation ids, timestamp) and the HTTP answer that carries it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::Error;
use crate::context::RequestContext;

impl Error {
    /// The Entra JSON error body, with trace id, correlation id and timestamp.
    pub fn body(&self, ctx: &RequestContext) -> ErrorBody {
        let spec = self.spec();
        let timestamp = ctx.timestamp();
        ErrorBody {
            error: spec.error,
            error_description: format!(
                // Entra joins the parts with CRLF.
                "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                spec.code, self, ctx.trace_id, ctx.correlation_id, timestamp
            ),
            error_codes: [spec.code],
            timestamp,
            trace_id: ctx.trace_id.to_string(),
            correlation_id: ctx.correlation_id.clone(),
            error_uri: format!("{}/error?code={}", ctx.base_url, spec.code),
            suberror: spec.suberror,
            claims: match self {
                Error::Forced(f) => f.claims.clone(),
                _ => None,
            },
        }
    }
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct ErrorBody {
    #[schema(value_type = String)]
    pub error: &'static str,
    pub error_description: String,
    #[schema(value_type = Vec<u32>)]
    pub error_codes: [u32; 1],
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    pub error_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub suberror: Option<&'static str>,
    /// A claims challenge (Conditional Access), as Entra returns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.spec().status
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let ctx = RequestContext::current();
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("Cache-Control", "no-store, no-cache"))
            .insert_header(("Pragma", "no-cache"))
            .insert_header(("Content-Type", JSON_UTF8))
            .insert_header(("x-ms-request-id", ctx.trace_id.to_string()))
            .insert_header(("client-request-id", ctx.correlation_id.clone()));
        if let Error::Forced(f) = self {
            if let Some(secs) = f.retry_after {
                res.insert_header(("Retry-After", secs.to_string()));
            }
        }
        // RFC 6749 section 5.2: a challenge when the client authenticated by the Authorization
        // header. Entra's 401 to credentials in the body carries none (its invalid_client answer
        // quoted in dotnet/AspNetCore.Docs issue 22325), and strict clients (oauth4webapi) take a
        // challenge for the error itself.
        if self.spec().error == "invalid_client" && ctx.basic_auth {
            res.insert_header(("WWW-Authenticate", "Basic realm=\"entra-mock\""));
        }
        let mut res = res.json(self.body(&ctx));
        res.extensions_mut().insert(AadstsCode(self.code()));
        res
    }
}

/// The content type of Entra's JSON answers, errors and tokens alike.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";

/// The AADSTS code an error answer carried, kept on the response for the request log.
#[derive(Debug, Clone, Copy)]
pub struct AadstsCode(pub u32);
