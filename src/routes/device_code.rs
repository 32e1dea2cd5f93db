//! `POST /{tenant}/oauth2/v2.0/devicecode` and v1's `POST /{tenant}/oauth2/devicecode`: the
//! device authorization request (`oauth::device_code`).

use actix_web::{web, HttpResponse, ResponseError};

use super::http::{json_no_store, ClientPost};
use crate::oauth::device_code::{self, V1DeviceAuthorization};
use crate::oauth::params::Endpoint;
use crate::state::AppState;

pub async fn devicecode(
    state: web::Data<AppState>,
    ClientPost(request): ClientPost,
) -> HttpResponse {
    match device_code::start(&state, &request).await {
        Ok(answer) => match request.endpoint {
            Endpoint::V2 => json_no_store(HttpResponse::Ok()).json(answer),
            Endpoint::V1 => {
                json_no_store(HttpResponse::Ok()).json(V1DeviceAuthorization::from(answer))
            }
        },
        Err(e) => e.error_response(),
    }
}
