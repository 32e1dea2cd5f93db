//! Fault injection (`/_mock/faults`): rules that make an endpoint answer as Entra does when things
//! go wrong (an AADSTS error, a claims challenge, throttling, an outage, a slow or dropped
//! connection, a stale key set) for the next N matching requests or until removed. Rules live in
//! memory: a restart clears them. The hot path pays one atomic load while no rule exists.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Forced, Result};

/// The endpoints a rule can target.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultEndpoint {
    Authorize,
    Token,
    Jwks,
    Discovery,
    Logout,
    Userinfo,
}

/// Named faults, each in Entra's exact shape.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Conditional Access demands MFA: AADSTS50076 with a `claims` challenge for `mfa` in `amr`.
    MfaRequired,
    /// AADSTS700082: the refresh token expired.
    RefreshTokenExpired,
    /// AADSTS50173: the grant was revoked.
    Revoked,
    /// AADSTS65001: consent is missing.
    ConsentRequired,
    /// AADSTS53003: Conditional Access blocks token issuance.
    UserBlocked,
    /// HTTP 429 with `Retry-After`.
    Throttled,
    /// HTTP 500 in Entra's shape.
    ServerError,
}

/// The `claims` challenge of the `mfa-required` preset: asks for `mfa` in `amr`. A request that
/// carries it (after an MFA sign-in) is not refused by that preset again.
pub const MFA_CLAIMS_CHALLENGE: &str =
    r#"{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#;

/// An Entra error a rule answers with (`POST /_mock/faults {"error": {...}}`).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    /// The AADSTS number.
    pub code: u32,
    /// The OAuth `error` (one of Entra's: `invalid_grant`, `interaction_required`, ...).
    pub error: String,
    pub suberror: Option<String>,
    /// A claims challenge (JSON text), returned as `claims`.
    pub claims: Option<String>,
    /// The message after `AADSTSnnnn: `.
    pub description: Option<String>,
}

/// `POST /_mock/faults`: what to match and what to do.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFault {
    pub endpoint: FaultEndpoint,
    pub preset: Option<Preset>,
    pub error: Option<ErrorSpec>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub drop: bool,
    /// JWKS only: serve the key set without the active key.
    #[serde(default)]
    pub stale_keys: bool,
    /// JWKS and discovery: the `Cache-Control` to send.
    pub cache_control: Option<String>,
    pub client_id: Option<String>,
    /// A UPN or object id: matches the `login_hint` of /authorize, the `logout_hint` of logout,
    /// and the user of the code or refresh token at the token endpoint.
    pub user: Option<String>,
    pub grant_type: Option<String>,
    /// How many matching requests it applies to; absent: until removed.
    pub times: Option<u32>,
}

/// What a matching request gets.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// An Entra error (JSON at the token endpoint, a redirect to the app at /authorize).
    Error { forced: Forced },
    /// The connection is closed without an answer.
    Drop,
    /// The JWKS without the active key.
    StaleKeys,
    /// The normal answer with this `Cache-Control`.
    CacheControl { value: String },
    /// The normal answer (after the delay).
    Pass,
}

/// A rule as listed by `GET /_mock/faults`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Rule {
    pub id: u64,
    pub endpoint: FaultEndpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Matching requests left; absent: until removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    pub delay_ms: u64,
    pub outcome: Outcome,
    /// Requests it has answered.
    pub hits: u64,
}

/// What is known of a request when its endpoint checks for faults.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub client_id: Option<&'a str>,
    /// The user's UPN (or a hint naming the user).
    pub user: Option<&'a str>,
    /// The user's object id, when known.
    pub user_oid: Option<&'a str>,
    pub grant_type: Option<&'a str>,
    /// The request's `claims` parameter.
    pub claims: Option<&'a str>,
}

/// A rule that fired: wait `delay_ms`, then give `outcome`.
#[derive(Debug, Clone)]
pub struct Fired {
    pub delay_ms: u64,
    pub outcome: Outcome,
}

#[derive(Debug, Default)]
pub struct Faults {
    any: AtomicBool,
    next_id: AtomicU64,
    rules: Mutex<Vec<Rule>>,
}

fn refuse(reason: impl Into<String>) -> Error {
    Error::InvalidParameter {
        name: "fault",
        reason: reason.into(),
    }
}

/// Entra's `error` values (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#error-codes-for-authorization-endpoint-errors>).
const OAUTH_ERRORS: [&str; 13] = [
    "invalid_request",
    "invalid_grant",
    "invalid_client",
    "invalid_scope",
    "invalid_resource",
    "unauthorized_client",
    "unsupported_grant_type",
    "interaction_required",
    "login_required",
    "consent_required",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
];

/// Entra's `suberror` values, as MSAL reads them.
const SUBERRORS: [&str; 8] = [
    "basic_action",
    "additional_action",
    "message_only",
    "bad_token",
    "token_expired",
    "user_password_expired",
    "consent_required",
    "client_mismatch",
];

fn known(list: &'static [&'static str], value: &str, what: &str) -> Result<&'static str> {
    list.iter()
        .copied()
        .find(|v| *v == value)
        .ok_or_else(|| refuse(format!("'{value}' is not one of Entra's {what} values.")))
}

fn preset(p: Preset, endpoint: FaultEndpoint, retry_after: Option<u64>) -> Forced {
    let (status, error, code, suberror, claims, message): (
        u16,
        &'static str,
        u32,
        Option<&'static str>,
        Option<&str>,
        &str,
    ) = match p {
        // As `Error::MfaRequired` and `Error::MfaInteractionRequired` answer: invalid_grant at
        // the token endpoint, interaction_required elsewhere.
        Preset::MfaRequired => (
            400,
            match endpoint {
                FaultEndpoint::Token => "invalid_grant",
                _ => "interaction_required",
            },
            50076,
            Some("basic_action"),
            Some(MFA_CLAIMS_CHALLENGE),
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.",
        ),
        Preset::RefreshTokenExpired => (
            400,
            "invalid_grant",
            700082,
            Some("bad_token"),
            None,
            "The refresh token has expired due to inactivity. The token was issued on a date past the maximum inactive time.",
        ),
        Preset::Revoked => (
            400,
            "invalid_grant",
            50173,
            Some("bad_token"),
            None,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        ),
        // At /authorize as `Error::InteractiveConsentRequired` answers.
        Preset::ConsentRequired if endpoint == FaultEndpoint::Authorize => (
            400,
            "consent_required",
            65001,
            None,
            None,
            "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
        ),
        Preset::ConsentRequired => (
            400,
            "invalid_grant",
            65001,
            Some("consent_required"),
            None,
            "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
        ),
        // As Entra answers a Conditional Access block: interaction_required, message_only.
        Preset::UserBlocked => (
            400,
            "interaction_required",
            53003,
            Some("message_only"),
            None,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ),
        // TenantThrottlingError (reference-error-codes): too many requests.
        Preset::Throttled => (
            429,
            "temporarily_unavailable",
            90055,
            None,
            None,
            "There are too many incoming requests. Try again later.",
        ),
        Preset::ServerError => (
            500,
            "server_error",
            50000,
            None,
            None,
            "There was an error issuing a token or an issue with our sign-in service.",
        ),
    };
    Forced {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        error,
        code,
        suberror,
        claims: claims.map(str::to_string),
        message: message.to_string(),
        retry_after: match p {
            Preset::Throttled => Some(retry_after.unwrap_or(5)),
            _ => retry_after,
        },
    }
}

impl NewFault {
    /// Validates the rule: one action, allowed at its endpoint.
    fn outcome(&self) -> Result<Outcome> {
        let status = match self.status {
            None => None,
            Some(s) => Some(
                StatusCode::from_u16(s)
                    .ok()
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .ok_or_else(|| refuse(format!("status {s} is not an error status.")))?,
            ),
        };
        let mut actions: Vec<Outcome> = Vec::new();
        if let Some(p) = self.preset {
            let mut f = preset(p, self.endpoint, self.retry_after);
            if let Some(s) = status {
                f.status = s;
            }
            actions.push(Outcome::Error { forced: f });
        }
        if let Some(e) = &self.error {
            let suberror = match &e.suberror {
                Some(s) => Some(known(&SUBERRORS, s, "suberror")?),
                None => None,
            };
            if let Some(c) = &e.claims {
                serde_json::from_str::<serde_json::Value>(c)
                    .map_err(|_| refuse("'claims' must be JSON text."))?;
            }
            actions.push(Outcome::Error {
                forced: Forced {
                    status: status.unwrap_or(StatusCode::BAD_REQUEST),
                    error: known(&OAUTH_ERRORS, &e.error, "error")?,
                    code: e.code,
                    suberror,
                    claims: e.claims.clone(),
                    message: e.description.clone().unwrap_or_else(|| {
                        "The request was refused by a fault rule of entra-mock's test control."
                            .into()
                    }),
                    retry_after: self.retry_after,
                },
            });
        }
        if self.preset.is_none() && self.error.is_none() {
            if let Some(s) = status {
                // A bare status still answers in Entra's shape.
                let (error, message) = match s.as_u16() {
                    429 | 503 => (
                        "temporarily_unavailable",
                        "The service is temporarily unavailable. Try again later.",
                    ),
                    _ => (
                        "server_error",
                        "There was an error issuing a token or an issue with our sign-in service.",
                    ),
                };
                actions.push(Outcome::Error {
                    forced: Forced {
                        status: s,
                        error,
                        code: 50000,
                        suberror: None,
                        claims: None,
                        message: message.into(),
                        retry_after: self.retry_after,
                    },
                });
            }
        }
        if self.drop {
            actions.push(Outcome::Drop);
        }
        if self.stale_keys {
            if self.endpoint != FaultEndpoint::Jwks {
                return Err(refuse("'stale_keys' applies to the jwks endpoint only."));
            }
            actions.push(Outcome::StaleKeys);
        }
        if let Some(v) = &self.cache_control {
            if !matches!(
                self.endpoint,
                FaultEndpoint::Jwks | FaultEndpoint::Discovery
            ) {
                return Err(refuse(
                    "'cache_control' applies to the jwks and discovery endpoints.",
                ));
            }
            if actix_web::http::header::HeaderValue::from_str(v).is_err() {
                return Err(refuse("'cache_control' is not a valid header value."));
            }
            actions.push(Outcome::CacheControl { value: v.clone() });
        }
        match actions.len() {
            0 if self.delay_ms.is_some() => Ok(Outcome::Pass),
            0 => Err(refuse(
                "give an action: 'preset', 'error', 'status', 'delay_ms', 'drop', 'stale_keys' or 'cache_control'.",
            )),
            1 => Ok(actions.remove(0)),
            _ => Err(refuse("give one action per rule (a delay may go with it).")),
        }
    }
}

impl Faults {
    pub fn add(&self, new: NewFault) -> Result<Rule> {
        if new.times == Some(0) {
            return Err(refuse(
                "'times' must be at least 1 (or absent: until removed).",
            ));
        }
        let outcome = new.outcome()?;
        let rule = Rule {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            endpoint: new.endpoint,
            preset: new.preset,
            client_id: new.client_id.map(|c| c.to_ascii_lowercase()),
            user: new.user,
            grant_type: new.grant_type,
            remaining: new.times,
            delay_ms: new.delay_ms.unwrap_or(0).min(120_000),
            outcome,
            hits: 0,
        };
        let mut rules = self.lock();
        rules.push(rule.clone());
        self.any.store(true, Ordering::Release);
        Ok(rule)
    }

    pub fn list(&self) -> Vec<Rule> {
        self.lock().clone()
    }

    /// Removes one rule (`Some(id)`) or all; whether anything was removed.
    pub fn remove(&self, id: Option<u64>) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        match id {
            Some(id) => rules.retain(|r| r.id != id),
            None => rules.clear(),
        }
        self.any.store(!rules.is_empty(), Ordering::Release);
        rules.len() != before
    }

    /// Whether a rule for `endpoint` names a user (the endpoint then finds out whose request it is).
    pub fn names_user(&self, endpoint: FaultEndpoint) -> bool {
        self.any.load(Ordering::Acquire)
            && self
                .lock()
                .iter()
                .any(|r| r.endpoint == endpoint && r.user.is_some())
    }

    /// The first rule matching a request at `endpoint`, counted as used.
    pub fn fire(&self, endpoint: FaultEndpoint, facts: RequestFacts<'_>) -> Option<Fired> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = self.lock();
        let i = rules.iter().position(|r| matches(r, endpoint, &facts))?;
        let rule = &mut rules[i];
        rule.hits += 1;
        let fired = Fired {
            delay_ms: rule.delay_ms,
            outcome: rule.outcome.clone(),
        };
        if let Some(left) = rule.remaining.as_mut() {
            *left -= 1;
            if *left == 0 {
                rules.remove(i);
            }
        }
        self.any.store(!rules.is_empty(), Ordering::Release);
        Some(fired)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn matches(r: &Rule, endpoint: FaultEndpoint, f: &RequestFacts<'_>) -> bool {
    let eq = |want: &Option<String>, got: Option<&str>| {
        want.as_deref()
            .is_none_or(|w| got.is_some_and(|g| g.eq_ignore_ascii_case(w)))
    };
    // A request that answers the MFA challenge passes the preset that sent it.
    let answers_challenge =
        r.preset == Some(Preset::MfaRequired) && f.claims.is_some_and(asks_for_mfa);
    r.endpoint == endpoint
        && eq(&r.client_id, f.client_id)
        && (eq(&r.user, f.user) || (f.user_oid.is_some() && eq(&r.user, f.user_oid)))
        && eq(&r.grant_type, f.grant_type)
        && !answers_challenge
}

/// Whether a `claims` parameter asks for MFA (`amr` containing `mfa`, or `acrs`).
fn asks_for_mfa(claims: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(claims) else {
        return false;
    };
    let at = &v["access_token"];
    let amr = &at["amr"];
    let mfa_in = |x: &serde_json::Value| x.as_array().is_some_and(|a| a.iter().any(|v| v == "mfa"));
    mfa_in(&amr["values"]) || amr["value"] == "mfa" || !at["acrs"].is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> Result<Rule> {
        Faults::default().add(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn a_rule_fires_for_exactly_times_matching_requests() {
        let faults = Faults::default();
        faults
            .add(
                serde_json::from_value(serde_json::json!({
                    "endpoint": "token", "preset": "revoked", "times": 2, "client_id": "ABC"
                }))
                .unwrap(),
            )
            .unwrap();
        let other = RequestFacts {
            client_id: Some("xyz"),
            ..Default::default()
        };
        let mine = RequestFacts {
            client_id: Some("abc"),
            ..Default::default()
        };
        assert!(faults.fire(FaultEndpoint::Token, other).is_none());
        assert!(faults.fire(FaultEndpoint::Authorize, mine).is_none());
        assert!(faults.fire(FaultEndpoint::Token, mine).is_some());
        assert!(faults.fire(FaultEndpoint::Token, mine).is_some());
        assert!(faults.fire(FaultEndpoint::Token, mine).is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn rules_without_one_valid_action_are_refused() {
        assert!(rule(serde_json::json!({"endpoint": "token"})).is_err());
        assert!(
            rule(serde_json::json!({"endpoint": "token", "drop": true, "preset": "revoked"}))
                .is_err()
        );
        assert!(rule(serde_json::json!({"endpoint": "token", "stale_keys": true})).is_err());
        assert!(rule(serde_json::json!({"endpoint": "token", "status": 200})).is_err());
        assert!(rule(serde_json::json!({"endpoint": "token", "times": 0, "drop": true})).is_err());
        assert!(rule(
            serde_json::json!({"endpoint": "token", "error": {"code": 1, "error": "oops"}})
        )
        .is_err());
        assert!(rule(serde_json::json!({"endpoint": "jwks", "delay_ms": 10})).is_ok());
        assert!(
            rule(serde_json::json!({"endpoint": "jwks", "status": 503, "retry_after": 3})).is_ok()
        );
    }

    #[test]
    fn the_mfa_preset_lets_a_request_that_answers_its_challenge_through() {
        let faults = Faults::default();
        faults
            .add(
                serde_json::from_value(
                    serde_json::json!({"endpoint": "token", "preset": "mfa-required"}),
                )
                .unwrap(),
            )
            .unwrap();
        let answered = RequestFacts {
            claims: Some(MFA_CLAIMS_CHALLENGE),
            ..Default::default()
        };
        assert!(faults.fire(FaultEndpoint::Token, answered).is_none());
        assert!(faults
            .fire(FaultEndpoint::Token, RequestFacts::default())
            .is_some());
    }
}
