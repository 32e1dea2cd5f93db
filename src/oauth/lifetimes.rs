//! Lifetimes of what the protocol issues: one home, so `/authorize`, the grants and the docs agree.

/// Entra: "Authorization codes are short lived. Typically, they expire after about 10 minutes."
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#successful-response>).
pub const CODE_LIFETIME_SECS: i64 = 600;

/// A refresh-token chain started on a SPA redirect URI lives 24 hours, whatever its use
/// (<https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime>).
pub const SPA_REFRESH_LIFETIME_SECS: i64 = 24 * 3600;

/// Other refresh tokens expire after 90 days without use (same page).
pub const REFRESH_INACTIVITY_SECS: i64 = 90 * 24 * 3600;
