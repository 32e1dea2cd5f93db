//! Mutations of users during sign-in: password and MFA failures and lockout (AADSTS50053), TOTP
//! replay protection and enrolment. Each is one SQL statement, so concurrent attempts cannot both
//! win.

use super::{Store, Tx};

impl Store {
    /// Counts a wrong MFA code; at `threshold` failures in a row the user is locked until
    /// `now + lock_secs` and the count starts again. Returns whether this failure locked the user.
    pub async fn record_mfa_failure(
        &self,
        oid: &str,
        threshold: i64,
        lock_secs: i64,
        now: i64,
    ) -> sqlx::Result<bool> {
        let until = now.saturating_add(lock_secs);
        let locked: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE users SET
                mfa_failures = CASE WHEN mfa_failures + 1 >= ?1 THEN 0 ELSE mfa_failures + 1 END,
                locked_until = CASE WHEN mfa_failures + 1 >= ?1 THEN ?2 ELSE locked_until END
             WHERE oid = ?3 RETURNING locked_until",
        )
        .bind(threshold.max(1))
        .bind(until)
        .bind(oid)
        .fetch_optional(&mut *self.writer.lock().await)
        .await?;
        Ok(locked.flatten() == Some(until))
    }

    /// Accepts the TOTP code of `step` unless a code of this step or a later one was already
    /// used. Resets the failure count.
    pub async fn accept_totp_step(&self, oid: &str, step: i64) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE users SET totp_last_step = ?1, mfa_failures = 0
             WHERE oid = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
        )
        .bind(step)
        .bind(oid)
        .execute(&mut *self.writer.lock().await)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Registers a TOTP secret, confirmed by the code of `step`.
    pub async fn enrol_totp(&self, oid: &str, secret_base32: &str, step: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET totp_secret = ?, totp_last_step = ?, mfa_failures = 0 WHERE oid = ?",
        )
        .bind(secret_base32)
        .bind(step)
        .bind(oid)
        .execute(&mut *self.writer.lock().await)
        .await?;
        Ok(())
    }

    /// Counts a wrong password, as Entra's smart lockout does
    /// (<https://learn.microsoft.com/entra/identity/authentication/howto-password-smart-lockout>):
    /// one of the user's last three wrong passwords (`fingerprint`) typed again is not counted; at
    /// `threshold` the user is locked until `now + lock_secs`, and the count stays one short of
    /// it, so that "if the first sign-in after a lockout period has expired also fails, the
    /// account locks out again". Returns whether this failure locked the user.
    pub async fn record_password_failure(
        &self,
        oid: &str,
        fingerprint: &str,
        threshold: i64,
        lock_secs: i64,
        now: i64,
    ) -> sqlx::Result<bool> {
        let until = now.saturating_add(lock_secs);
        let locked: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE users SET
                password_failures = CASE
                    WHEN instr(recent_bad_passwords, ?4) > 0 THEN password_failures
                    WHEN password_failures + 1 >= ?1 THEN ?1 - 1
                    ELSE password_failures + 1 END,
                locked_until = CASE
                    WHEN instr(recent_bad_passwords, ?4) = 0 AND password_failures + 1 >= ?1
                    THEN ?2 ELSE locked_until END,
                recent_bad_passwords = CASE
                    WHEN instr(recent_bad_passwords, ?4) > 0 THEN recent_bad_passwords
                    ELSE rtrim(substr(?4 || ' ' || recent_bad_passwords, 1, 50)) END
             WHERE oid = ?3 RETURNING locked_until",
        )
        .bind(threshold.max(1))
        .bind(until)
        .bind(oid)
        .bind(fingerprint)
        .fetch_optional(&mut *self.writer.lock().await)
        .await?;
        Ok(locked.flatten() == Some(until))
    }

    /// A correct password resets the count of wrong ones (smart lockout counts failures in a row).
    pub async fn clear_password_failures(&self, oid: &str) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET password_failures = 0, recent_bad_passwords = '' WHERE oid = ?",
        )
        .bind(oid)
        .execute(&mut *self.writer.lock().await)
        .await?;
        Ok(())
    }
}

impl Tx {
    /// A finished sign-in resets both failure counts (queued: [`Tx::defer`]).
    pub async fn clear_failures(&mut self, oid: &str) -> sqlx::Result<()> {
        self.defer(
            "UPDATE users SET mfa_failures = 0, password_failures = 0, recent_bad_passwords = ''
             WHERE oid = ?",
        )
        .bind(oid.to_string());
        Ok(())
    }
}
