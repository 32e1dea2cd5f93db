//! The sign-in page's "Test accounts" hint: while the built-in tenant is in use, the page offers
//! a collapsed list of its well-known users with their password, MFA method and, for TOTP users,
//! the code of the current step (on the virtual clock). It sits outside Entra's controls, so
//! automation by Entra's element ids is unaffected; `--no-hints`, a fixture file of one's own, or
//! an app with `strictEntraClaims` hides it.

use std::sync::OnceLock;

use crate::config::FixtureSource;
use crate::fixtures::Fixtures;
use crate::signin::totp::TotpSecret;
use crate::state::AppState;

/// One line of the hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestAccount {
    pub upn: String,
    pub password: String,
    /// "none", "TOTP", "passkey (WebAuthn)", "enrol at first sign-in".
    pub mfa: String,
    /// The TOTP code of the current step.
    pub code: Option<String>,
}

/// The hint's lines, or none when it is hidden.
pub fn test_accounts(state: &AppState, strict_app: bool) -> Vec<TestAccount> {
    let shown = state.settings.hints
        && !strict_app
        && matches!(state.settings.fixtures, FixtureSource::BuiltIn);
    if !shown {
        return Vec::new();
    }
    // The codes come from the secrets read once with the fixture: no store lookup per page.
    let now = state.clock.unix();
    well_known()
        .iter()
        .map(|(account, totp)| TestAccount {
            code: totp
                .as_ref()
                .and_then(|t| t.code_at(now))
                .map(|(code, _)| code),
            ..account.clone()
        })
        .collect()
}

/// The built-in tenant's users, read once from the embedded fixture.
fn well_known() -> &'static [(TestAccount, Option<TotpSecret>)] {
    static USERS: OnceLock<Vec<(TestAccount, Option<TotpSecret>)>> = OnceLock::new();
    USERS.get_or_init(|| {
        let Ok(fixtures) = Fixtures::built_in() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for user in fixtures.file.tenants.iter().flat_map(|t| t.users.iter()) {
            let required = user.mfa.as_deref() == Some("required");
            let mfa = match (required, &user.totp, user.mfa_method.as_deref()) {
                (false, _, _) => "none",
                (true, Some(_), _) => "TOTP",
                (true, None, Some("webauthn")) => "passkey (WebAuthn), created at first sign-in",
                (true, None, _) => "chosen at first sign-in (TOTP or passkey)",
            };
            let account = TestAccount {
                upn: user.user_principal_name.clone(),
                password: user.password.expose().to_string(),
                mfa: mfa.to_string(),
                code: None,
            };
            let totp = user
                .totp
                .as_ref()
                .map(|t| TotpSecret::from_base32(t.secret.expose()));
            out.push((account, totp));
        }
        out
    })
}
