//! The device authorization grant (RFC 8628) as Entra speaks it
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>):
//!
//! 1. The device POSTs `client_id` and `scope` to `/{tenant}/oauth2/v2.0/devicecode` (v1:
//!    `/{tenant}/oauth2/devicecode` with `resource`) and gets `device_code`, `user_code`,
//!    `verification_uri`, `expires_in` (900), `interval` (5) and `message` ([`start`]).
//! 2. The person opens `{base}/devicelogin`, types the user code, confirms the app, and signs in
//!    through the normal pages (MFA included): [`find_for_page`] checks the code,
//!    [`signin_request`] turns it into the sign-in's request, whose end approves the code
//!    (`oauth::authorize::complete`); cancelling declines it.
//! 3. The device polls `/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`
//!    (`grants::device_code`): `authorization_pending` until the user is done, then the tokens.
//!
//! Entra's answer has no `verification_uri_complete` ("not included or supported at this time").

use serde::Serialize;

use crate::directory::{Directory, Platform};
use crate::error::{Error, Result};
use crate::oauth::authorize::{
    self, AuthorizeRequest, ClientInfo, Prompt, ReplyTarget, ResponseMode, ResponseType,
};
use crate::oauth::params::{ClientRequest, Endpoint};
use crate::state::AppState;
use crate::store::device_codes::{device_code_id, DeviceCode, DeviceStatus};

/// "From the moment the request is sent, the user has 15 minutes to sign in."
pub const DEVICE_CODE_LIFETIME_SECS: i64 = 15 * 60;
/// Entra's polling interval.
pub const POLL_INTERVAL_SECS: i64 = 5;
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The letters of a user code: no 0/O or 1/I, which people mistype.
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Entra's user codes have 8 or 9 characters.
const USER_CODE_LEN: usize = 9;

/// The v2.0 answer.
#[derive(Serialize)]
pub struct DeviceAuthorization {
    pub user_code: String,
    pub device_code: String,
    pub verification_uri: String,
    pub expires_in: i64,
    pub interval: i64,
    pub message: String,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("device_code", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The v1 answer, as ADAL reads it: `verification_url`, and numbers as strings.
#[derive(Serialize)]
pub struct V1DeviceAuthorization {
    pub user_code: String,
    pub device_code: String,
    pub verification_url: String,
    pub expires_in: String,
    pub interval: String,
    pub message: String,
}

impl From<DeviceAuthorization> for V1DeviceAuthorization {
    fn from(a: DeviceAuthorization) -> Self {
        V1DeviceAuthorization {
            user_code: a.user_code,
            device_code: a.device_code,
            verification_url: a.verification_uri,
            expires_in: a.expires_in.to_string(),
            interval: a.interval.to_string(),
            message: a.message,
        }
    }
}

/// Where the person enters the code.
pub fn verification_uri(base_url: &str) -> String {
    format!("{base_url}/devicelogin")
}

fn endpoint_name(e: Endpoint) -> &'static str {
    match e {
        Endpoint::V1 => "v1",
        Endpoint::V2 => "v2",
    }
}

fn endpoint_of(stored: &str) -> Endpoint {
    match stored {
        "v1" => Endpoint::V1,
        _ => Endpoint::V2,
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`: validates the client and the scopes as `/authorize`
/// would, and stores a new device code.
pub async fn start(state: &AppState, req: &ClientRequest) -> Result<DeviceAuthorization> {
    let directory = state.directory();
    let tenant = directory.resolve_tenant(&req.tenant)?;
    let client_id = req
        .params
        .get("client_id")
        .ok_or(Error::MissingParameter("client_id"))?;
    let app = directory.application(&tenant, client_id)?;
    tenant.admits(&app)?;
    let scope = match req.endpoint {
        Endpoint::V2 => req
            .params
            .get("scope")
            .ok_or(Error::MissingParameter("scope"))?
            .to_string(),
        Endpoint::V1 => crate::oauth::v1::delegated_scope(req.params.get("resource")),
    };
    crate::oauth::scope::parse(&directory, &scope)?;
    let claims = match req.params.get("claims") {
        None => None,
        Some(c) => match serde_json::from_str::<serde_json::Value>(c) {
            Ok(v) if v.is_object() => Some(c.to_string()),
            _ => {
                return Err(Error::InvalidParameter {
                    name: "claims",
                    reason: "the claims parameter must be a JSON object.".into(),
                })
            }
        },
    };
    let device_code = format!("DAQABIQEAAAD{}", crate::crypto::random_b64(96));
    let mut code = DeviceCode {
        id: device_code_id(&device_code),
        user_code: String::new(),
        client_id: app.client_id.clone(),
        tenant_segment: tenant.segment.clone(),
        scope: scope.split_whitespace().collect::<Vec<_>>().join(" "),
        claims_json: claims,
        endpoint: endpoint_name(req.endpoint).to_string(),
        interval_secs: POLL_INTERVAL_SECS,
        created_at: req.now,
        expires_at: req.now + DEVICE_CODE_LIFETIME_SECS,
        last_poll_at: None,
        status: DeviceStatus::Pending,
    };
    // 32^9 codes: a collision is rare, and a taken one is drawn again.
    for _ in 0..8 {
        code.user_code = new_user_code();
        if state.store.insert_device_code(&code).await? {
            let uri = verification_uri(&req.base_url);
            return Ok(DeviceAuthorization {
                message: format!(
                    "To sign in, use a web browser to open the page {uri} and enter the code {} to authenticate.",
                    code.user_code
                ),
                user_code: code.user_code,
                device_code,
                verification_uri: uri,
                expires_in: DEVICE_CODE_LIFETIME_SECS,
                interval: POLL_INTERVAL_SECS,
            });
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no free user code")))
}

fn new_user_code() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// A user code as typed: spaces and dashes dropped, case ignored.
pub fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The device code a person typed the user code of, if it can still be signed in to: an unknown
/// code is AADSTS70018, an expired one AADSTS70019, one already approved or declined AADSTS90120.
pub async fn find_for_page(state: &AppState, typed: &str, now: i64) -> Result<DeviceCode> {
    let user_code = normalize_user_code(typed);
    if user_code.is_empty() || user_code.len() > 32 {
        return Err(Error::BadVerificationCode);
    }
    let code = state
        .store
        .device_code_by_user_code(&user_code)
        .await?
        .ok_or(Error::BadVerificationCode)?;
    if now >= code.expires_at {
        return Err(Error::DeviceCodeExpired);
    }
    match code.status {
        DeviceStatus::Pending => Ok(code),
        DeviceStatus::Approved { .. } | DeviceStatus::Declined => Err(Error::DeviceFlowFinished),
    }
}

/// The person declined at `/devicelogin` ("Cancel"): the device's next poll gets
/// `authorization_declined`.
pub async fn decline(state: &AppState, code: &DeviceCode, now: i64) -> Result<()> {
    if state.store.decline_device_code(&code.id, now).await? {
        Ok(())
    } else {
        Err(Error::DeviceFlowFinished)
    }
}

/// The sign-in request a device code stands for: the app, scopes and claims of the device's
/// request, answered at `{base}/devicelogin/done` (entra-mock's own page, never an app's URI),
/// and `prompt=select_account`, as Entra asks which account to use even when the browser has a
/// session (the device is not the browser).
pub fn signin_request(
    directory: &Directory,
    code: &DeviceCode,
    base_url: &str,
) -> Result<AuthorizeRequest> {
    let tenant = directory.resolve_tenant(&code.tenant_segment)?;
    let app = directory.application(&tenant, &code.client_id)?;
    Ok(AuthorizeRequest {
        tenant_segment: tenant.segment.clone(),
        tenant_id: authorize::signin_tenant(&tenant, &app),
        client_id: app.client_id.clone(),
        reply: ReplyTarget {
            redirect_uri: format!("{base_url}/devicelogin/done"),
            mode: ResponseMode::Query,
            state: Some(app.client_id.clone()),
        },
        platform: Platform::PublicClient,
        response_type: ResponseType::Code,
        scope: code.scope.clone(),
        nonce: None,
        prompt: Some(Prompt::SelectAccount),
        login_hint: None,
        sid: None,
        domain_hint: None,
        max_age: None,
        pkce: None,
        mfa_demand: authorize::mfa_demand_of(code.claims_json.as_deref()),
        claims: code.claims_json.clone(),
        client_info: ClientInfo::from_param(None),
        endpoint: endpoint_of(&code.endpoint),
        device: Some(code.id.clone()),
        consent: authorize::Consent::Ask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_nine_unambiguous_letters() {
        let c = new_user_code();
        assert_eq!(c.len(), USER_CODE_LEN);
        assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_ne!(new_user_code(), new_user_code());
    }

    #[test]
    fn typed_codes_ignore_case_spaces_and_dashes() {
        assert_eq!(normalize_user_code(" abc-def ghj "), "ABCDEFGHJ");
    }
}
