//! What the battery sends: the hostile values, and each endpoint with a valid request whose
//! parameters (or, for the test-control API, JSON fields) the battery replaces one at a time.

use crate::helpers::*;

pub(super) const SCRIPT: &str = "<script>alert(1337)</script>";
pub(super) const ATTR: &str = "\"><svg onload=alert(1337)>";
pub(super) const CRLF: &str = "x\r\nX-Injected: 1\r\n\r\n<h1>injected</h1>";

/// Values that break parsers or escape their context, sent raw (bad percent-encoding and UTF-8
/// are written into the request as they are) or form-encoded.
pub(super) fn hostile_values() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        SCRIPT,
        ATTR,
        CRLF,
        "javascript:alert(1337)",
        "https://evil.example/cb",
        "//evil.example",
        "http://localhost:5001/auth/callback.evil.example",
        "",
        " ",
        "null",
        "[]",
        "{\"a\":",
        "-1",
        "99999999999999999999",
        "../../etc/passwd",
        "common",
    ]
    .iter()
    .map(|s| encode(s.as_bytes()).into_bytes())
    .collect();
    v.push(b"%ZZ%".to_vec());
    v.push(b"%FF%FE%C3%28".to_vec());
    v.push(b"\xff\xfe\xc3\x28".to_vec());
    v.push(b"%00%0d%0aX-Injected:%201".to_vec());
    v.push(vec![b'a'; 20_000]);
    v
}

pub(super) fn encode(bytes: &[u8]) -> String {
    url::form_urlencoded::byte_serialize(bytes).collect()
}

/// An endpoint, a valid request to it, and the parameters the battery replaces one at a time.
pub(super) struct Case {
    pub(super) method: &'static str,
    pub(super) path: String,
    /// Query (GET) or form body (POST).
    pub(super) base_params: Vec<(&'static str, String)>,
    pub(super) params: &'static [&'static str],
}

pub(super) fn cases() -> Vec<Case> {
    let authorize = vec![
        ("client_id", BFF.to_string()),
        ("response_type", "code".into()),
        ("scope", "openid profile".into()),
        ("redirect_uri", BFF_REDIRECT.into()),
        ("state", "s".into()),
        ("nonce", "n".into()),
    ];
    let authorize_params: &[&str] = &[
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "prompt",
        "login_hint",
        "domain_hint",
        "claims",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "max_age",
        "sid",
        "resource",
    ];
    let token = vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", DAEMON.to_string()),
        ("client_secret", DAEMON_SECRET.to_string()),
        ("scope", format!("api://{API}/.default")),
    ];
    let token_params: &[&str] = &[
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_assertion",
        "client_assertion_type",
        "username",
        "password",
        "assertion",
        "requested_token_use",
        "resource",
        "claims",
        "device_code",
    ];
    let logout = vec![
        (
            "post_logout_redirect_uri",
            "http://localhost:5001/".to_string(),
        ),
        ("client_id", BFF.to_string()),
        ("state", "s".into()),
    ];
    let logout_params: &[&str] = &[
        "post_logout_redirect_uri",
        "client_id",
        "id_token_hint",
        "logout_hint",
        "state",
    ];
    let t = TENANT;
    vec![
        Case {
            method: "GET",
            path: format!("/{t}/oauth2/v2.0/authorize"),
            base_params: authorize.clone(),
            params: authorize_params,
        },
        Case {
            method: "POST",
            path: format!("/{t}/oauth2/v2.0/authorize"),
            base_params: authorize.clone(),
            params: authorize_params,
        },
        Case {
            method: "GET",
            path: format!("/{t}/oauth2/authorize"),
            base_params: authorize,
            params: authorize_params,
        },
        Case {
            method: "POST",
            path: format!("/{t}/oauth2/v2.0/token"),
            base_params: token.clone(),
            params: token_params,
        },
        Case {
            method: "POST",
            path: format!("/{t}/oauth2/token"),
            base_params: token,
            params: token_params,
        },
        Case {
            method: "GET",
            path: format!("/{t}/oauth2/v2.0/logout"),
            base_params: logout.clone(),
            params: logout_params,
        },
        Case {
            method: "POST",
            path: format!("/{t}/oauth2/logout"),
            base_params: logout,
            params: logout_params,
        },
        Case {
            method: "POST",
            path: format!("/{t}/oauth2/v2.0/revoke"),
            base_params: vec![("token", "x".into()), ("client_id", BFF.into())],
            params: &["token", "token_type_hint", "client_id"],
        },
        Case {
            method: "POST",
            path: format!("/{t}/login"),
            base_params: vec![
                ("ctx", "x".into()),
                ("flowToken", "y".into()),
                ("loginfmt", ALICE.into()),
            ],
            params: &[
                "ctx",
                "flowToken",
                "loginfmt",
                "passwd",
                "otc",
                "action",
                "credential",
                "kmsi",
            ],
        },
        Case {
            method: "POST",
            path: format!("/{t}/oauth2/v2.0/devicecode"),
            base_params: vec![("client_id", SPA.into()), ("scope", "openid".into())],
            params: &["client_id", "scope", "claims"],
        },
        Case {
            method: "POST",
            path: "/devicelogin".into(),
            base_params: vec![("otc", "ABCDEFGHJ".into())],
            params: &["otc", "user_code", "action"],
        },
        Case {
            method: "GET",
            path: "/devicelogin/done".into(),
            base_params: vec![("state", SPA.into())],
            params: &["state", "error"],
        },
        Case {
            method: "GET",
            path: "/oidc/userinfo".into(),
            base_params: vec![],
            params: &["access_token"],
        },
        Case {
            method: "GET",
            path: format!("/{t}/v2.0/.well-known/openid-configuration"),
            base_params: vec![],
            params: &["appid", "p"],
        },
        Case {
            method: "GET",
            path: format!("/{t}/discovery/v2.0/keys"),
            base_params: vec![],
            params: &["appid"],
        },
        Case {
            method: "GET",
            path: format!("/{t}/discovery/instance"),
            base_params: vec![],
            params: &["authorization_endpoint", "api-version"],
        },
        Case {
            method: "GET",
            path: format!("/{t}/userrealm/alice@contoso.onmicrosoft.com"),
            base_params: vec![],
            params: &["api-version"],
        },
        Case {
            method: "POST",
            path: format!("/v1.0/users/{ALICE_OID}/revokeSignInSessions"),
            base_params: vec![],
            params: &["x"],
        },
        Case {
            method: "POST",
            path: "/v1.0/me/revokeSignInSessions".to_string(),
            base_params: vec![],
            params: &["x"],
        },
    ]
}

pub(super) fn query(params: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v);
    }
    out
}

/// The test-control API's JSON endpoints, each with a valid body whose fields the battery replaces
/// one at a time ([`control_api`]).
pub(super) fn control_cases() -> Vec<(&'static str, String, serde_json::Value)> {
    use serde_json::json;
    vec![
        ("POST", "clock".into(), json!({"advance": 60, "offset": 0})),
        (
            "POST",
            "faults".into(),
            json!({"endpoint": "token", "status": 503, "times": 1, "preset": "throttled",
                   "error": {"code": 50058, "error": "interaction_required"}, "retry_after": 5,
                   "delay_ms": 1, "drop": false, "stale_keys": false, "cache_control": "no-store",
                   "client_id": BFF, "user": ALICE, "grant_type": "refresh_token"}),
        ),
        (
            "POST",
            "tokens".into(),
            json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE,
                   "claims": {"x": 1}, "amr": ["pwd"], "defect": "expired"}),
        ),
        (
            "POST",
            "signin".into(),
            json!({"user": ALICE, "client_id": BFF, "redirect_uri": BFF_REDIRECT,
                   "scope": "openid", "methods": ["pwd"], "nonce": "n", "state": "s",
                   "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGKSx-9GHM",
                   "code_challenge_method": "S256"}),
        ),
        (
            "POST",
            "users".into(),
            json!({"id": "e1e1e1e1-0000-4000-8000-000000000005",
                   "userPrincipalName": "erin@contoso.onmicrosoft.com", "displayName": "Erin",
                   "givenName": "E", "surname": "R", "mail": "erin@contoso.example",
                   "password": PASSWORD, "mfa": "required", "mfaMethod": "totp",
                   "totp": {"secret": BOB_TOTP_SECRET, "digits": 6, "period": 30, "algorithm": "SHA1"}}),
        ),
        (
            "PATCH",
            format!("users/{ALICE}"),
            json!({"displayName": "Alice", "mfa": "none", "password": PASSWORD}),
        ),
        (
            "PATCH",
            "applications/api".into(),
            json!({"displayName": "API", "accessTokenAcceptedVersion": 2,
                   "groupMembershipClaims": "All", "identifierUris": [format!("api://{API}")],
                   "optionalClaims": {"accessToken": [{"name": "idtyp"}]},
                   "web": {"redirectUris": ["http://localhost:7000/cb"]},
                   "spa": {"redirectUris": ["http://localhost:7001/"]},
                   "passwordCredentials": [{"displayName": "d", "secretText": "s"}],
                   "appRoles": [{"allowedMemberTypes": ["Application"],
                                 "id": "7a5c0000-0000-4000-8000-0000000000a1",
                                 "value": "Tasks.ReadWrite.All"}]}),
        ),
        (
            "POST",
            "groups".into(),
            json!({"displayName": "G", "id": "7a5c0000-0000-4000-8000-00000000a0ff",
                   "members": [ALICE]}),
        ),
        (
            "POST",
            "assignments".into(),
            json!({"principal": ALICE, "resource": "api", "role": "Tasks.ReadWrite.All"}),
        ),
        ("POST", "keys/rotate".into(), json!({"phase": "publish"})),
        (
            "POST",
            "federation/token".into(),
            json!({"subject": "repo:contoso/app:ref:refs/heads/main",
                   "audience": "api://AzureADTokenExchange", "lifetime_seconds": 600,
                   "claims": {"repository": "contoso/app"}}),
        ),
    ]
}
