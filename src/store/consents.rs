//! Consent grants (Graph's `oauth2PermissionGrant`): which delegated scopes of a resource a
//! client holds for one user, or for everyone (`principal` = [`ALL_PRINCIPALS`], admin consent).
//! Pre-authorized clients (`api.preAuthorizedApplications`) are not here: the directory holds
//! them.

use super::{Store, Tx};

/// The principal of a tenant-wide (admin) grant.
pub const ALL_PRINCIPALS: &str = "*";

/// One granted scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub resource_client_id: String,
    pub scope: String,
}

/// A column of the consent grants `{table}.client_id` holds for `{table}.user_oid` (the user's
/// own and the tenant-wide ones), `resource/scope` pairs separated by spaces: read in the query
/// that reads a code or a refresh token, so a token costs no query of its own for them.
macro_rules! consent_grants_column {
    ($table:literal) => {
        concat!(
            "(SELECT group_concat(resource_client_id || '/' || scope, ' ') FROM consent_grants
              WHERE consent_grants.client_id = ",
            $table,
            ".client_id
              AND consent_grants.principal IN (",
            $table,
            ".user_oid, '*')) AS consent_grants"
        )
    };
}
pub(crate) use consent_grants_column;

/// The grants of a [`consent_grants_column`].
pub(crate) fn parse_grants(column: Option<&str>) -> sqlx::Result<Vec<Grant>> {
    column
        .unwrap_or("")
        .split_whitespace()
        .map(|pair| {
            let (resource, scope) = pair.split_once('/').ok_or_else(|| {
                sqlx::Error::Decode(format!("stored consent grant does not parse: {pair:?}").into())
            })?;
            Ok(Grant {
                resource_client_id: resource.to_string(),
                scope: scope.to_string(),
            })
        })
        .collect()
}

impl Store {
    /// The scopes `client_id` holds for `user_oid`: the user's own grants and the tenant-wide ones.
    pub async fn consent_grants(
        &self,
        client_id: &str,
        user_oid: &str,
    ) -> sqlx::Result<Vec<Grant>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT resource_client_id, scope FROM consent_grants
             WHERE client_id = ? AND principal IN (?, '*')",
        )
        .bind(client_id)
        .bind(user_oid)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(resource_client_id, scope)| Grant {
                resource_client_id,
                scope,
            })
            .collect())
    }
}

impl Tx {
    /// Records what a user (or, with [`ALL_PRINCIPALS`], an admin for everyone) consented to.
    pub async fn grant_consent(
        &mut self,
        client_id: &str,
        principal: &str,
        grants: &[Grant],
        now: i64,
    ) -> sqlx::Result<()> {
        for g in grants {
            sqlx::query(
                "INSERT INTO consent_grants (client_id, resource_client_id, principal, scope, source, created_at)
                 VALUES (?, ?, ?, ?, 'runtime', ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(client_id)
            .bind(&g.resource_client_id)
            .bind(principal)
            .bind(&g.scope)
            .bind(now)
            .execute(self.conn().await?)
            .await?;
        }
        Ok(())
    }
}
