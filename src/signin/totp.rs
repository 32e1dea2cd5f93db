//! TOTP (RFC 6238) as Microsoft Authenticator uses it: SHA-1, 6 digits, 30-second steps, one
//! step of clock drift accepted each way. Replay protection (a code already used in its window
//! is refused) is the store's atomic `totp_last_step` update.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: i64 = 30;
const DIGITS: usize = 6;

/// A base32 TOTP secret. Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSecret(String);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new 160-bit secret (RFC 4226 section 4 recommends 160 bits).
    pub fn generate() -> Self {
        let raw: [u8; 20] = rand::random();
        match Secret::Raw(raw.to_vec()).to_encoded() {
            Secret::Encoded(s) => TotpSecret(s),
            Secret::Raw(_) => TotpSecret(String::new()),
        }
    }

    pub fn from_base32(s: &str) -> Self {
        TotpSecret(s.to_string())
    }

    /// The base32 text shown on the enrolment page, for manual entry.
    pub fn base32(&self) -> &str {
        &self.0
    }

    fn totp(&self, issuer: Option<String>, account: String) -> Option<TOTP> {
        let bytes = Secret::Encoded(self.0.clone()).to_bytes().ok()?;
        Some(TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECS as u64,
            bytes,
            issuer,
            account,
        ))
    }

    /// The step (`unix / 30`) whose code `code` is, within one step of `now`; compared in
    /// constant time.
    pub fn matching_step(&self, code: &str, now_unix: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp(None, String::new())?;
        let current = now_unix.div_euclid(STEP_SECS);
        let mut found = None;
        for step in [current - 1, current, current + 1] {
            if step < 0 {
                continue;
            }
            let expected = totp.generate((step * STEP_SECS) as u64);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found = Some(step);
            }
        }
        found
    }

    /// The code of the step `now_unix` falls in, and the seconds left in that step.
    pub fn code_at(&self, now_unix: i64) -> Option<(String, i64)> {
        let step = step_of(now_unix);
        let code = self
            .totp(None, String::new())?
            .generate((step * STEP_SECS).max(0) as u64);
        Some((code, (step + 1) * STEP_SECS - now_unix))
    }

    /// The `otpauth://` QR code as a base64 PNG, for authenticator apps.
    pub fn qr_png_base64(&self, issuer: &str, account: &str) -> Option<String> {
        // otpauth labels may not contain ':'.
        let issuer = issuer.replace(':', " ");
        let account = account.replace(':', " ");
        self.totp(Some(issuer), account)?.get_qr_base64().ok()
    }
}

/// The current TOTP step of a Unix time.
pub fn step_of(now_unix: i64) -> i64 {
    now_unix.div_euclid(STEP_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_code_matches_and_says_how_long_it_lasts() {
        let s = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
        let now = 1_767_924_132; // 12 s into its step
        let (code, left) = s.code_at(now).unwrap();
        assert_eq!(s.matching_step(&code, now), Some(step_of(now)));
        assert_eq!(left, 18);
    }

    #[test]
    fn codes_of_neighbouring_steps_match_and_others_do_not() {
        let s = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
        let totp = s.totp(None, String::new()).unwrap();
        let now = 1_767_924_132;
        let prev = totp.generate((now - 30) as u64);
        assert_eq!(s.matching_step(&prev, now), Some(step_of(now) - 1));
        let old = totp.generate((now - 90) as u64);
        assert_eq!(s.matching_step(&old, now), None);
        assert_eq!(s.matching_step("12345", now), None);
        assert!(!format!("{s:?}").contains("JBSW"));
    }
}
