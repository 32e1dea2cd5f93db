//! The sign-in page's "Test accounts" hint: while the built-in tenant is in use, the page offers
//! a collapsed list of its well-known users with their password, MFA method and, for TOTP users,
//! the code of the current step (on the virtual clock). It sits outside Entra's controls, so
//! automation by Entra's element ids is unaffected; `--no-hints`, a fixture file of one's own, or
//! an app with `strictEntraClaims` hides it.

use std::sync::OnceLock;

use crate::config::FixtureSource;
use crate::fixtures::Fixtures;
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
pub async fn test_accounts(state: &AppState, strict_app: bool) -> Vec<TestAccount> {
    let shown = state.settings.hints
        && !strict_app
        && matches!(state.settings.fixtures, FixtureSource::BuiltIn);
    if !shown {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (account, has_totp) in well_known() {
        let mut account = account.clone();
        if *has_totp {
            account.code = super::current_totp(state, &account.upn)
                .await
                .ok()
                .flatten()
                .map(|(code, _)| code);
        }
        out.push(account);
    }
    out
}

/// The built-in tenant's users, read once from the embedded fixture.
fn well_known() -> &'static [(TestAccount, bool)] {
    static USERS: OnceLock<Vec<(TestAccount, bool)>> = OnceLock::new();
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
            out.push((account, user.totp.is_some()));
        }
        out
    })
}
