//! Mutations of users during sign-in: MFA failures and lockout (AADSTS50053), TOTP replay
//! protection and enrolment. Each is one SQL statement, so concurrent attempts cannot both win.

use super::Store;

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
        let until = now + lock_secs;
        let locked: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE users SET
                mfa_failures = CASE WHEN mfa_failures + 1 >= ?1 THEN 0 ELSE mfa_failures + 1 END,
                locked_until = CASE WHEN mfa_failures + 1 >= ?1 THEN ?2 ELSE locked_until END
             WHERE oid = ?3 RETURNING locked_until",
        )
        .bind(threshold.max(1))
        .bind(until)
        .bind(oid)
        .fetch_optional(&self.pool)
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
        .execute(&self.pool)
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_mfa_failures(&self, oid: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET mfa_failures = 0 WHERE oid = ?")
            .bind(oid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
