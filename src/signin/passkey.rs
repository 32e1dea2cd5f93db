//! WebAuthn with webauthn-rs: passkey registration and authentication with user verification
//! required. The relying-party id is the host the page is served on (`localhost`), and the
//! origins of both listeners (`http://` and `https://`, any port, since tests bind port 0) are
//! allowed. An IP address cannot be a relying-party id (WebAuthn section 5.1.4.1), so the pages
//! must be opened on a host name.

use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::directory::User;
use crate::error::Error;

/// The relying party for a page served under `base_url`.
pub fn relying_party(base_url: &str) -> Result<Webauthn, Error> {
    let unusable = |reason: String| Error::InvalidParameter {
        name: "host",
        reason,
    };
    let url = Url::parse(base_url).map_err(|e| unusable(e.to_string()))?;
    let host = url
        .domain()
        .ok_or_else(|| {
            unusable("WebAuthn needs a host name such as localhost, not an IP address.".into())
        })?
        .to_string();
    let https = Url::parse(&format!("https://{host}")).map_err(|e| unusable(e.to_string()))?;
    let http = Url::parse(&format!("http://{host}")).map_err(|e| unusable(e.to_string()))?;
    WebauthnBuilder::new(&host, &https)
        .map_err(|e| unusable(e.to_string()))?
        .append_allowed_origin(&http)
        .allow_any_port(true)
        .rp_name("entra-mock")
        .build()
        .map_err(|e| unusable(e.to_string()))
}

fn user_handle(user: &User) -> Uuid {
    Uuid::parse_str(&user.oid)
        .unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_OID, user.oid.as_bytes()))
}

/// Starts a registration: the options for `navigator.credentials.create` (JSON) and the state.
pub fn start_registration(
    rp: &Webauthn,
    user: &User,
    existing: &[Passkey],
) -> Result<(String, PasskeyRegistration), Error> {
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) = rp
        .start_passkey_registration(
            user_handle(user),
            &user.upn,
            &user.display_name,
            Some(exclude),
        )
        .map_err(|e| Error::Internal(anyhow::anyhow!("webauthn registration: {e}")))?;
    let json = serde_json::to_string(&options).map_err(|e| Error::Internal(e.into()))?;
    Ok((json, state))
}

/// Finishes a registration with the browser's JSON answer; `None` when it does not verify.
pub fn finish_registration(
    rp: &Webauthn,
    state: &PasskeyRegistration,
    answer: &str,
) -> Option<Passkey> {
    let reg: RegisterPublicKeyCredential = serde_json::from_str(answer).ok()?;
    rp.finish_passkey_registration(&reg, state)
        .map_err(|e| tracing::info!(error = %e, "passkey registration refused"))
        .ok()
}

/// Starts an authentication over the user's passkeys.
pub fn start_authentication(
    rp: &Webauthn,
    passkeys: &[Passkey],
) -> Result<(String, PasskeyAuthentication), Error> {
    let (options, state) = rp
        .start_passkey_authentication(passkeys)
        .map_err(|e| Error::Internal(anyhow::anyhow!("webauthn authentication: {e}")))?;
    let json = serde_json::to_string(&options).map_err(|e| Error::Internal(e.into()))?;
    Ok((json, state))
}

/// Finishes an authentication; on success the passkeys whose counters moved are returned for
/// storage.
pub fn finish_authentication(
    rp: &Webauthn,
    state: &PasskeyAuthentication,
    passkeys: &[Passkey],
    answer: &str,
) -> Option<Vec<Passkey>> {
    let cred: PublicKeyCredential = serde_json::from_str(answer).ok()?;
    let result = rp
        .finish_passkey_authentication(&cred, state)
        .map_err(|e| tracing::info!(error = %e, "passkey assertion refused"))
        .ok()?;
    if !result.user_verified() {
        return None;
    }
    Some(
        passkeys
            .iter()
            .cloned()
            .filter_map(|mut p| (p.update_credential(&result) == Some(true)).then_some(p))
            .collect(),
    )
}
