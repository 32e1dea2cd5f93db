//! Reads the directory (tenants, registrations, groups) and users.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row;

use super::Store;
use crate::directory::{
    AppRole, Application, AssertionReuse, ClientCertificate, ClientSecret, ClientType, Credentials,
    Directory, Group, ManagedIdentity, MfaMethod, MfaPolicy, Platform, RefreshReuse,
    SignInAudience, Tenant, TokenVersion, User, Validity,
};

#[derive(sqlx::FromRow)]
struct AppRow {
    client_id: String,
    tenant_id: String,
    name: String,
    display_name: String,
    service_principal_id: String,
    client_type: String,
    identifier_uri: Option<String>,
    identifier_uris_json: String,
    access_token_accepted_version: i64,
    front_channel_logout_url: Option<String>,
    require_mfa: bool,
    stay_signed_in_prompt: bool,
    strict_entra_claims: bool,
    allow_id_token_implicit: bool,
    allow_access_token_implicit: bool,
    refresh_token_reuse: String,
    client_assertion_reuse: String,
    access_token_lifetime_secs: Option<i64>,
    id_token_lifetime_secs: i64,
    claims_json: String,
    sign_in_audience: String,
    graph_permissions_json: String,
    refresh_reuse_grace_secs: i64,
    managed_identity: Option<String>,
    federated_credentials_json: String,
    app_role_assignment_required: bool,
    required_resource_access_json: String,
    known_client_applications_json: String,
}

/// A stored value that does not parse: an error, never a default.
fn corrupt(what: &str, value: &dyn std::fmt::Debug) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} does not parse: {value:?}").into())
}

impl TryFrom<AppRow> for Application {
    type Error = sqlx::Error;

    fn try_from(r: AppRow) -> Result<Self, sqlx::Error> {
        Ok(Application {
            client_id: r.client_id,
            tenant_id: r.tenant_id,
            name: r.name,
            display_name: r.display_name,
            service_principal_id: r.service_principal_id,
            fallback_client_type: match r.client_type.as_str() {
                "public" => ClientType::Public,
                "confidential" => ClientType::Confidential,
                other => return Err(corrupt("client type", &other)),
            },
            identifier_uris: match serde_json::from_str::<Vec<String>>(&r.identifier_uris_json)
                .map_err(|_| corrupt("identifierUris", &r.identifier_uris_json))?
            {
                // Written before migration 0030: the first URI only.
                uris if uris.is_empty() => r.identifier_uri.into_iter().collect(),
                uris => uris,
            },
            access_token_version: match r.access_token_accepted_version {
                1 => TokenVersion::V1,
                2 => TokenVersion::V2,
                other => return Err(corrupt("accessTokenAcceptedVersion", &other)),
            },
            front_channel_logout_url: r.front_channel_logout_url,
            require_mfa: r.require_mfa,
            assignment_required: r.app_role_assignment_required,
            stay_signed_in_prompt: r.stay_signed_in_prompt,
            strict_entra_claims: r.strict_entra_claims,
            allow_id_token_implicit: r.allow_id_token_implicit,
            allow_access_token_implicit: r.allow_access_token_implicit,
            refresh_reuse_grace_secs: r.refresh_reuse_grace_secs,
            managed_identity: match r.managed_identity.as_deref() {
                None => None,
                Some("systemAssigned") => Some(ManagedIdentity::SystemAssigned),
                Some("userAssigned") => Some(ManagedIdentity::UserAssigned),
                Some(other) => return Err(corrupt("managedIdentity", &other)),
            },
            refresh_reuse: match r.refresh_token_reuse.as_str() {
                "allow" => RefreshReuse::Allow,
                "detect" => RefreshReuse::Detect,
                other => return Err(corrupt("refreshTokenReuse", &other)),
            },
            assertion_reuse: match r.client_assertion_reuse.as_str() {
                "allow" => AssertionReuse::Allow,
                "reject" => AssertionReuse::Reject,
                other => return Err(corrupt("clientAssertionReuse", &other)),
            },
            access_token_lifetime_secs: r.access_token_lifetime_secs,
            id_token_lifetime_secs: r.id_token_lifetime_secs,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            secrets: Vec::new(),
            certificates: Vec::new(),
            scopes: Vec::new(),
            app_roles: Vec::new(),
            consents: HashMap::new(),
            granted_roles: HashMap::new(),
            claims: serde_json::from_str(&r.claims_json)
                .map_err(|_| corrupt("claims configuration", &r.claims_json))?,
            sign_in_audience: SignInAudience::parse(&r.sign_in_audience)
                .ok_or_else(|| corrupt("signInAudience", &r.sign_in_audience))?,
            graph_permissions: serde_json::from_str(&r.graph_permissions_json)
                .map_err(|_| corrupt("Graph permissions", &r.graph_permissions_json))?,
            federated_credentials: serde_json::from_str(&r.federated_credentials_json).map_err(
                |_| {
                    corrupt(
                        "federatedIdentityCredentials",
                        &r.federated_credentials_json,
                    )
                },
            )?,
            required_resource_access: serde_json::from_str(&r.required_resource_access_json)
                .map_err(|_| corrupt("requiredResourceAccess", &r.required_resource_access_json))?,
            known_client_applications: serde_json::from_str(&r.known_client_applications_json)
                .map_err(|_| {
                    corrupt("knownClientApplications", &r.known_client_applications_json)
                })?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    oid: String,
    tenant_id: String,
    upn: String,
    display_name: String,
    given_name: Option<String>,
    surname: Option<String>,
    mail: Option<String>,
    password_salt: Vec<u8>,
    password_sha256: Vec<u8>,
    mfa_policy: String,
    mfa_method: Option<String>,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    password_failures: i64,
    mfa_failures: i64,
    locked_until: Option<i64>,
    sessions_revoked_at: Option<i64>,
}

impl TryFrom<UserRow> for User {
    type Error = sqlx::Error;

    fn try_from(r: UserRow) -> Result<Self, sqlx::Error> {
        Ok(User {
            oid: r.oid,
            tenant_id: r.tenant_id,
            upn: r.upn,
            display_name: r.display_name,
            given_name: r.given_name,
            surname: r.surname,
            mail: r.mail,
            credentials: Credentials::new(r.password_salt, r.password_sha256, r.totp_secret),
            mfa_policy: match r.mfa_policy.as_str() {
                "required" => MfaPolicy::Required,
                "none" => MfaPolicy::None,
                other => return Err(corrupt("mfa policy", &other)),
            },
            preferred_mfa: match r.mfa_method.as_deref() {
                Some("totp") => Some(MfaMethod::Totp),
                Some("webauthn") => Some(MfaMethod::WebAuthn),
                None => None,
                Some(other) => return Err(corrupt("mfa method", &other)),
            },
            totp_last_step: r.totp_last_step,
            password_failures: r.password_failures,
            mfa_failures: r.mfa_failures,
            locked_until: r.locked_until,
            sessions_revoked_at: r.sessions_revoked_at,
        })
    }
}

pub(super) const USER_COLUMNS: &str =
    "oid, tenant_id, upn, display_name, given_name, surname, mail, \
    password_salt, password_sha256, mfa_policy, mfa_method, totp_secret, totp_last_step, \
    password_failures, mfa_failures, locked_until, sessions_revoked_at";

impl Store {
    /// Reads everything fixtures registered into one snapshot.
    pub async fn load_directory(&self) -> sqlx::Result<Directory> {
        let tenants: Vec<Arc<Tenant>> = sqlx::query("SELECT * FROM tenants ORDER BY rowid")
            .fetch_all(&mut *self.read().await?)
            .await?
            .into_iter()
            .map(|r| {
                Arc::new(Tenant {
                    id: r.get("id"),
                    domain: r.get("domain"),
                    display_name: r.get("display_name"),
                    mfa_lockout_threshold: r.get("mfa_lockout_threshold"),
                    mfa_lockout_secs: r.get("mfa_lockout_secs"),
                    lockout_threshold: r.get("lockout_threshold"),
                    lockout_secs: r.get("lockout_secs"),
                })
            })
            .collect();

        let mut apps: HashMap<String, Application> =
            sqlx::query_as::<_, AppRow>("SELECT * FROM applications")
                .fetch_all(&mut *self.read().await?)
                .await?
                .into_iter()
                .map(|r| Ok((r.client_id.clone(), Application::try_from(r)?)))
                .collect::<sqlx::Result<_>>()?;

        for r in sqlx::query("SELECT client_id, platform, uri FROM redirect_uris ORDER BY rowid")
            .fetch_all(&mut *self.read().await?)
            .await?
        {
            let platform: &str = r.get("platform");
            let p = Platform::parse(platform).ok_or_else(|| corrupt("platform", &platform))?;
            if let Some(app) = apps.get_mut(r.get::<&str, _>("client_id")) {
                app.redirect_uris.push((p, r.get("uri")));
            }
        }
        for r in sqlx::query("SELECT client_id, uri FROM post_logout_redirect_uris")
            .fetch_all(&mut *self.read().await?)
            .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("client_id")) {
                app.post_logout_redirect_uris.push(r.get("uri"));
            }
        }
        let validity = |r: &sqlx::sqlite::SqliteRow| Validity {
            start: r.get("start_at"),
            end: r.get("end_at"),
        };
        for r in sqlx::query("SELECT client_id, sha256, start_at, end_at FROM client_secrets")
            .fetch_all(&mut *self.read().await?)
            .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("client_id")) {
                app.secrets.push(ClientSecret {
                    digest: r.get("sha256"),
                    validity: validity(&r),
                });
            }
        }
        for r in sqlx::query(
            "SELECT client_id, thumbprint_sha1, thumbprint_sha256, public_key_der, start_at, end_at
             FROM client_certificates",
        )
        .fetch_all(&mut *self.read().await?)
        .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("client_id")) {
                app.certificates.push(ClientCertificate {
                    thumbprint_sha1: r.get("thumbprint_sha1"),
                    thumbprint_sha256: r.get("thumbprint_sha256"),
                    public_key_der: r.get("public_key_der"),
                    validity: validity(&r),
                });
            }
        }
        for r in sqlx::query("SELECT resource_client_id, value FROM scopes ORDER BY rowid")
            .fetch_all(&mut *self.read().await?)
            .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("resource_client_id")) {
                app.scopes.push(r.get("value"));
            }
        }
        for r in sqlx::query(
            "SELECT resource_client_id, value, id, allowed_member_types FROM app_roles ORDER BY rowid",
        )
        .fetch_all(&mut *self.read().await?)
        .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("resource_client_id")) {
                let types: String = r.get("allowed_member_types");
                app.app_roles.push(AppRole {
                    value: r.get("value"),
                    id: r.get("id"),
                    for_users: types != "Application",
                    for_apps: types != "User",
                });
            }
        }
        for r in
            sqlx::query("SELECT client_id, resource_client_id, scope FROM consents ORDER BY rowid")
                .fetch_all(&mut *self.read().await?)
                .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("client_id")) {
                app.consents
                    .entry(r.get("resource_client_id"))
                    .or_default()
                    .push(r.get("scope"));
            }
        }
        for r in sqlx::query(
            "SELECT client_id, resource_client_id, role FROM app_role_grants ORDER BY rowid",
        )
        .fetch_all(&mut *self.read().await?)
        .await?
        {
            if let Some(app) = apps.get_mut(r.get::<&str, _>("client_id")) {
                app.granted_roles
                    .entry(r.get("resource_client_id"))
                    .or_default()
                    .push(r.get("role"));
            }
        }

        let mut groups: Vec<Group> =
            sqlx::query("SELECT id, display_name FROM groups ORDER BY rowid")
                .fetch_all(&mut *self.read().await?)
                .await?
                .into_iter()
                .map(|r| Group {
                    id: r.get("id"),
                    display_name: r.get("display_name"),
                    members: Vec::new(),
                })
                .collect();
        for r in sqlx::query("SELECT group_id, user_oid FROM group_members")
            .fetch_all(&mut *self.read().await?)
            .await?
        {
            let gid: String = r.get("group_id");
            if let Some(g) = groups.iter_mut().find(|g| g.id == gid) {
                g.members.push(r.get("user_oid"));
            }
        }
        let mut user_roles: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for r in sqlx::query(
            "SELECT user_oid, resource_client_id, role FROM user_role_assignments ORDER BY rowid",
        )
        .fetch_all(&mut *self.read().await?)
        .await?
        {
            user_roles
                .entry(r.get("user_oid"))
                .or_default()
                .push((r.get("resource_client_id"), r.get("role")));
        }

        let mut group_apps: HashMap<String, Vec<String>> = HashMap::new();
        for r in sqlx::query("SELECT group_id, resource_client_id FROM group_app_assignments")
            .fetch_all(&mut *self.read().await?)
            .await?
        {
            group_apps
                .entry(r.get("group_id"))
                .or_default()
                .push(r.get("resource_client_id"));
        }

        Ok(Directory {
            tenants,
            applications: apps.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            groups,
            user_roles,
            group_apps,
        })
    }

    pub async fn user_by_upn(&self, tenant_id: &str, upn: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as::<_, UserRow>(sql_once!(
            "SELECT {USER_COLUMNS} FROM users WHERE upn = ? AND tenant_id = ?"
        ))
        .bind(upn.trim())
        .bind(tenant_id)
        .fetch_optional(&mut *self.read().await?)
        .await
        .and_then(|r| r.map(User::try_from).transpose())
    }

    pub async fn user_by_oid(&self, oid: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as::<_, UserRow>(sql_once!("SELECT {USER_COLUMNS} FROM users WHERE oid = ?"))
            .bind(oid)
            .fetch_optional(&mut *self.read().await?)
            .await
            .and_then(|r| r.map(User::try_from).transpose())
    }

    /// A user by object id or UPN (Graph's `/users/{id | userPrincipalName}`).
    pub async fn user_by_id_or_upn(&self, id: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as::<_, UserRow>(sql_once!(
            "SELECT {USER_COLUMNS} FROM users WHERE oid = ?1 OR upn = ?1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.read().await?)
        .await
        .and_then(|r| r.map(User::try_from).transpose())
    }
}
