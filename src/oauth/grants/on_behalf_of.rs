//! The on-behalf-of flow: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`, as Entra speaks it
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow>). A
//! confidential middle-tier app presents the user's access token it received (`assertion`, whose
//! `aud` is the app itself) and gets a token for a downstream API for the same user: the user's
//! `oid` and `amr` carry over, the scopes are the downstream ones the app holds consent for
//! (AADSTS65001 otherwise), a refresh token comes with `offline_access`.
//!
//! Refused: a public client (AADSTS7000218: the flow is for confidential apps), an assertion not
//! signed by this tenant's keys (AADSTS50013, InvalidAssertion), one not for the presenting app
//! (AADSTS500131), one out of its time window (AADSTS500133), an app-only token (it has no user
//! to act for).

use serde::Deserialize;

use super::{Env, TokenResponse};
use crate::amr::Amr;
use crate::directory::ClientType;
use crate::error::{Error, Result};
use crate::oauth::claims::issued_at;
use crate::oauth::params::{Params, Secret};

#[derive(Debug)]
pub struct Request {
    assertion: Secret,
    scope: String,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        match params.require("requested_token_use")? {
            "on_behalf_of" => {}
            other => {
                return Err(Error::InvalidParameter {
                    name: "requested_token_use",
                    reason: format!("'{other}' is not supported: use on_behalf_of"),
                })
            }
        }
        Ok(Request {
            assertion: Secret::new(params.require("assertion")?),
            scope: params.require("scope")?.to_string(),
        })
    }
}

/// The claims of the incoming access token that the exchange reads.
#[derive(Debug, Deserialize)]
struct Incoming {
    aud: serde_json::Value,
    tid: Option<String>,
    oid: Option<String>,
    scp: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    #[serde(default)]
    amr: Vec<String>,
}

pub async fn redeem(env: &Env<'_>, req: Request) -> Result<TokenResponse> {
    let app = &env.client.app;
    env.client.require(ClientType::Confidential)?;
    let keys = env.state.keys.snapshot();
    // Entra validates its own Microsoft Graph tokens too (signed over a hashed `nonce` header).
    let token = req.assertion.expose();
    let incoming: Incoming = crate::keys::verify::verify(&keys, token)
        .or_else(|e| {
            crate::keys::graph_signed_form(token)
                .ok_or(e)
                .and_then(|t| crate::keys::verify::verify(&keys, &t))
        })
        .map_err(|_| Error::InvalidAssertion("the assertion failed signature validation".into()))?;
    let audience = incoming.aud.as_str().unwrap_or_default();
    let for_this_app = audience.eq_ignore_ascii_case(&app.client_id)
        || app
            .identifier_uris
            .iter()
            .any(|uri| uri.eq_ignore_ascii_case(audience));
    if !for_this_app {
        // AADSTS500131 with the app's id and name, as Entra answers it (quoted in
        // OfficeDev/microsoft-teams-apps-company-communicator issue 214).
        return Err(Error::AssertionForAnotherApp {
            audience: audience.to_string(),
            client_id: app.client_id.clone(),
            name: app.display_name.clone(),
        });
    }
    // Clock skew of five minutes, as Entra allows for assertions.
    let skew = 300;
    let expired = incoming.exp.is_none_or(|exp| exp + skew < env.now);
    let early = incoming.nbf.is_some_and(|nbf| nbf - skew > env.now);
    if expired || early {
        return Err(Error::AssertionOutOfTime);
    }
    if incoming.tid.as_deref() != Some(env.tenant.tenant.id.as_str()) {
        return Err(Error::InvalidAssertion(
            "the assertion was issued for another tenant".into(),
        ));
    }
    let (Some(oid), Some(_)) = (incoming.oid.as_deref(), incoming.scp.as_deref()) else {
        return Err(Error::InvalidAssertion(
            "the assertion is not a delegated (user) token: it has no scp".into(),
        ));
    };
    let user = env
        .state
        .store
        .user_by_oid(oid)
        .await?
        .ok_or_else(|| Error::InvalidAssertion("the assertion's user does not exist".into()))?;
    super::check_not_revoked(&user, incoming.iat.map_or(env.now, issued_at))?;
    let scopes = env.user_scopes(&user, &req.scope).await?;
    let mut amr: Vec<Amr> = incoming
        .amr
        .iter()
        .filter_map(|a| serde_json::from_value(serde_json::Value::String(a.clone())).ok())
        .collect();
    if amr.is_empty() {
        amr.push(Amr::Pwd);
    }
    super::issue_without_session(
        env,
        &user,
        &scopes,
        amr,
        incoming.iat.map_or(env.now, issued_at),
    )
    .await
}
