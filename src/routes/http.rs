//! HTTP helpers the endpoints share.

use actix_web::{HttpRequest, HttpResponseBuilder};

/// Entra's headers on every answer that carries tokens or credentials.
pub fn no_store(mut res: HttpResponseBuilder) -> HttpResponseBuilder {
    res.insert_header(("Cache-Control", "no-store, no-cache"))
        .insert_header(("Pragma", "no-cache"));
    res
}

/// A request header as text; absent when missing or not visible ASCII.
pub fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
