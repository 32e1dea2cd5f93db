//! Mutations of users during sign-in: password and MFA failures and lockout (AADSTS50053), TOTP
//! replay protection and enrolment. Each is one SQL statement, so concurrent attempts cannot both
//! win.

use super::{Store, Tx};

/// What failed: each kind has its own count, and either locks the user (AADSTS50053).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCounter {
    /// Smart lockout.
    Password,
    Mfa,
}

impl FailureCounter {
    fn column(self) -> &'static str {
        match self {
            FailureCounter::Password => "password_failures",
            FailureCounter::Mfa => "mfa_failures",
        }
    }
}

impl Store {
    /// Counts a failure (a wrong password or MFA code); at `threshold` failures in a row the user
    /// is locked until `now + lock_secs` and the count starts again. Returns whether this failure
    /// locked the user.
    pub async fn record_failure(
        &self,
        oid: &str,
        counter: FailureCounter,
        threshold: i64,
        lock_secs: i64,
        now: i64,
    ) -> sqlx::Result<bool> {
        let until = now.saturating_add(lock_secs);
        let column = counter.column();
        let locked: Option<Option<i64>> = sqlx::query_scalar(&format!(
            "UPDATE users SET
                {column} = CASE WHEN {column} + 1 >= ?1 THEN 0 ELSE {column} + 1 END,
                locked_until = CASE WHEN {column} + 1 >= ?1 THEN ?2 ELSE locked_until END
             WHERE oid = ?3 RETURNING locked_until"
        ))
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

    /// A correct password resets the count of wrong ones (smart lockout counts failures in a row).
    pub async fn clear_password_failures(&self, oid: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET password_failures = 0 WHERE oid = ?")
            .bind(oid)
            .execute(&mut *self.writer.lock().await)
            .await?;
        Ok(())
    }
}

impl Tx {
    /// A finished sign-in resets both failure counts (queued: [`Tx::defer`]).
    pub async fn clear_failures(&mut self, oid: &str) -> sqlx::Result<()> {
        self.defer("UPDATE users SET mfa_failures = 0, password_failures = 0 WHERE oid = ?")
            .bind(oid.to_string());
        Ok(())
    }
}
