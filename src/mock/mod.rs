//! The test-control API's domain (`/_mock/`): what a test can change or read while the server
//! runs. Handlers in `routes::mock` parse and call these; each change takes effect at once.

pub mod directory;
pub mod document;
pub mod faults;
pub mod federation;
pub mod hints;
pub mod keys;
pub mod requests;
pub mod sessions;
pub mod signin;
pub mod tokens;

/// A user's current one-time code and the seconds it stays valid, by the virtual clock; `None`
/// when there is no such user or the user has no TOTP method.
pub async fn current_totp(
    state: &crate::state::AppState,
    user: &str,
) -> crate::error::Result<Option<(String, i64)>> {
    let found = state.store.user_by_id_or_upn(user).await?;
    Ok(found
        .as_ref()
        .and_then(|u| u.credentials.totp_secret_base32())
        .map(crate::signin::totp::TotpSecret::from_base32)
        .and_then(|s| s.code_at(state.clock.unix())))
}
