//! Fixture files: tenants, app registrations, users, groups and app-role assignments in TOML,
//! with field names taken from Entra's application manifest and Microsoft Graph where they exist
//! (<https://learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest>).
//! The format is documented in `fixtures/README.md`.
//!
//! Loading validates the whole file first and fails with the file, the entry and the field at
//! fault. Writing is idempotent: registrations are replaced, while keys, sessions, tokens and what
//! users enrolled at run time (TOTP, passkeys) are kept.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use crate::store::{password_digest, sha256, Store};

/// The built-in well-known development tenant.
pub const DEFAULT_FIXTURE: &str = include_str!("../fixtures/default.toml");
pub const DEFAULT_FIXTURE_NAME: &str = "fixtures/default.toml (built in)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {entry}: field `{field}`: {message}")]
pub struct FixtureError {
    pub file: String,
    pub entry: String,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureFile {
    #[serde(default)]
    pub tenants: Vec<TenantFx>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantFx {
    pub id: String,
    pub domain: String,
    pub display_name: String,
    #[serde(default)]
    pub mfa_lockout: Option<LockoutFx>,
    #[serde(default)]
    pub applications: Vec<AppFx>,
    #[serde(default)]
    pub users: Vec<UserFx>,
    #[serde(default)]
    pub groups: Vec<GroupFx>,
    #[serde(default)]
    pub app_role_assignments: Vec<AssignmentFx>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LockoutFx {
    pub threshold: i64,
    pub duration_seconds: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedirectsFx {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImplicitFx {
    #[serde(default)]
    pub enable_id_token_issuance: bool,
    #[serde(default)]
    pub enable_access_token_issuance: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebFx {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Front-channel logout URL.
    pub logout_url: Option<String>,
    #[serde(default)]
    pub implicit_grant_settings: ImplicitFx,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretFx {
    pub secret_text: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyCredentialFx {
    /// A PEM certificate, inline or as a path relative to the fixture file.
    pub certificate: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeFx {
    pub value: String,
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreAuthorizedFx {
    /// The client's appId (or its fixture name).
    pub app_id: String,
    /// Scope ids or values of this API the client is pre-consented to.
    pub delegated_permission_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiFx {
    #[serde(default)]
    pub oauth2_permission_scopes: Vec<ScopeFx>,
    #[serde(default)]
    pub pre_authorized_applications: Vec<PreAuthorizedFx>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRoleFx {
    pub value: String,
    pub id: Option<String>,
    pub allowed_member_types: Vec<String>,
}

/// entra-mock switches that have no manifest counterpart.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppMockFx {
    /// Like a Conditional Access policy requiring MFA for this app.
    #[serde(default)]
    pub require_mfa: bool,
    /// Show "Stay signed in?" after sign-in.
    #[serde(default)]
    pub stay_signed_in_prompt: bool,
    /// Drop claims real Entra does not send in v2 tokens (`amr`).
    #[serde(default)]
    pub strict_entra_claims: bool,
    /// `allow` (Entra) or `detect` (RFC 9700: reuse revokes the family).
    pub refresh_token_reuse: Option<String>,
    pub access_token_lifetime_seconds: Option<i64>,
    pub id_token_lifetime_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppFx {
    pub name: String,
    pub app_id: String,
    pub display_name: Option<String>,
    pub service_principal_id: Option<String>,
    #[serde(default)]
    pub is_fallback_public_client: bool,
    #[serde(default)]
    pub identifier_uris: Vec<String>,
    pub access_token_accepted_version: Option<i64>,
    #[serde(default)]
    pub web: WebFx,
    #[serde(default)]
    pub spa: RedirectsFx,
    #[serde(default)]
    pub public_client: RedirectsFx,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub password_credentials: Vec<SecretFx>,
    #[serde(default)]
    pub key_credentials: Vec<KeyCredentialFx>,
    #[serde(default)]
    pub api: ApiFx,
    #[serde(default)]
    pub app_roles: Vec<AppRoleFx>,
    #[serde(default)]
    pub mock: AppMockFx,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TotpFx {
    pub secret: String,
    pub algorithm: Option<String>,
    pub digits: Option<u32>,
    pub period: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserFx {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub password: String,
    /// `none` or `required`.
    pub mfa: Option<String>,
    /// The method to enrol at first sign-in when none is registered: `totp` or `webauthn`.
    pub mfa_method: Option<String>,
    pub totp: Option<TotpFx>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupFx {
    pub id: String,
    pub display_name: String,
    /// User principal names or object ids.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignmentFx {
    /// An application (name or appId), a user (UPN or id) or a group (display name or id).
    pub principal: String,
    /// The resource application (name or appId) that defines the role.
    pub resource: String,
    /// The app role's value.
    pub role: String,
}

/// A fixture file read and checked, ready to be written.
#[derive(Debug)]
pub struct Fixtures {
    file: FixtureFile,
    /// Certificates, parsed, per (tenant index, app index).
    certs: HashMap<(usize, usize), Vec<ParsedCert>>,
}

#[derive(Debug, Clone)]
struct ParsedCert {
    sha1: String,
    sha256: String,
    public_key_der: Vec<u8>,
    cert_der: Vec<u8>,
}

impl Fixtures {
    pub fn built_in() -> Result<Self, FixtureError> {
        Self::parse(DEFAULT_FIXTURE, DEFAULT_FIXTURE_NAME, None)
    }

    pub fn from_path(path: &Path) -> Result<Self, FixtureError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FixtureError {
            file: name.clone(),
            entry: "(file)".into(),
            field: "-".into(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse(&text, &name, path.parent().map(Path::to_path_buf))
    }

    pub fn parse(text: &str, file: &str, base_dir: Option<PathBuf>) -> Result<Self, FixtureError> {
        let parsed: FixtureFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            FixtureError {
                file: file.to_string(),
                entry: line.map_or("(document)".into(), |l| format!("line {l}")),
                field: unknown_field(e.message()).unwrap_or_else(|| "-".into()),
                message: e.message().trim().to_string(),
            }
        })?;
        let mut v = Validator {
            file: file.to_string(),
            base_dir,
            certs: HashMap::new(),
        };
        v.validate(&parsed)?;
        Ok(Fixtures {
            file: parsed,
            certs: v.certs,
        })
    }

    pub fn tenants(&self) -> &[TenantFx] {
        &self.file.tenants
    }

    /// Writes the fixtures in one transaction.
    pub async fn apply(&self, store: &Store) -> anyhow::Result<()> {
        let mut tx = store.pool.begin().await?;
        let all_apps: Vec<&AppFx> = self
            .file
            .tenants
            .iter()
            .flat_map(|t| t.applications.iter())
            .collect();
        let app_id = |r: &str| -> Option<String> {
            all_apps
                .iter()
                .find(|a| a.name == r || a.app_id.eq_ignore_ascii_case(r))
                .map(|a| a.app_id.to_lowercase())
        };

        // Registrations not in the file any more go; their dependents cascade.
        let keep_apps: Vec<String> = all_apps.iter().map(|a| a.app_id.to_lowercase()).collect();
        let keep_users: Vec<String> = self
            .file
            .tenants
            .iter()
            .flat_map(|t| t.users.iter().map(|u| u.id.to_lowercase()))
            .collect();
        delete_missing(&mut tx, "applications", "client_id", &keep_apps).await?;
        delete_missing(&mut tx, "users", "oid", &keep_users).await?;
        for table in [
            "redirect_uris",
            "post_logout_redirect_uris",
            "client_secrets",
            "client_certificates",
            "scopes",
            "app_roles",
            "consents",
            "app_role_grants",
            "group_members",
            "groups",
            "user_role_assignments",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }

        for (ti, t) in self.file.tenants.iter().enumerate() {
            let tid = t.id.to_lowercase();
            let lockout = t.mfa_lockout.as_ref();
            sqlx::query(
                "INSERT INTO tenants (id, domain, display_name, mfa_lockout_threshold, mfa_lockout_secs)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT(id) DO UPDATE SET domain = excluded.domain,
                   display_name = excluded.display_name,
                   mfa_lockout_threshold = excluded.mfa_lockout_threshold,
                   mfa_lockout_secs = excluded.mfa_lockout_secs",
            )
            .bind(&tid)
            .bind(&t.domain)
            .bind(&t.display_name)
            .bind(lockout.map_or(5, |l| l.threshold))
            .bind(lockout.map_or(60, |l| l.duration_seconds))
            .execute(&mut *tx)
            .await?;

            for (ai, a) in t.applications.iter().enumerate() {
                let cid = a.app_id.to_lowercase();
                let sp = a.service_principal_id.clone().unwrap_or_else(|| {
                    Uuid::new_v5(&Uuid::NAMESPACE_OID, cid.as_bytes()).to_string()
                });
                sqlx::query(
                    "INSERT INTO applications (client_id, tenant_id, name, display_name, service_principal_id,
                        client_type, identifier_uri, access_token_accepted_version, front_channel_logout_url,
                        require_mfa, stay_signed_in_prompt, strict_entra_claims, allow_id_token_implicit,
                        allow_access_token_implicit, refresh_token_reuse, access_token_lifetime_secs,
                        id_token_lifetime_secs)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT(client_id) DO UPDATE SET tenant_id = excluded.tenant_id, name = excluded.name,
                        display_name = excluded.display_name, service_principal_id = excluded.service_principal_id,
                        client_type = excluded.client_type, identifier_uri = excluded.identifier_uri,
                        access_token_accepted_version = excluded.access_token_accepted_version,
                        front_channel_logout_url = excluded.front_channel_logout_url,
                        require_mfa = excluded.require_mfa, stay_signed_in_prompt = excluded.stay_signed_in_prompt,
                        strict_entra_claims = excluded.strict_entra_claims,
                        allow_id_token_implicit = excluded.allow_id_token_implicit,
                        allow_access_token_implicit = excluded.allow_access_token_implicit,
                        refresh_token_reuse = excluded.refresh_token_reuse,
                        access_token_lifetime_secs = excluded.access_token_lifetime_secs,
                        id_token_lifetime_secs = excluded.id_token_lifetime_secs",
                )
                .bind(&cid)
                .bind(&tid)
                .bind(&a.name)
                .bind(a.display_name.as_deref().unwrap_or(&a.name))
                .bind(sp)
                .bind(if a.is_fallback_public_client { "public" } else { "confidential" })
                .bind(a.identifier_uris.first())
                .bind(a.access_token_accepted_version.unwrap_or(1))
                .bind(&a.web.logout_url)
                .bind(a.mock.require_mfa)
                .bind(a.mock.stay_signed_in_prompt)
                .bind(a.mock.strict_entra_claims)
                .bind(a.web.implicit_grant_settings.enable_id_token_issuance)
                .bind(a.web.implicit_grant_settings.enable_access_token_issuance)
                .bind(a.mock.refresh_token_reuse.as_deref().unwrap_or("allow"))
                .bind(a.mock.access_token_lifetime_seconds)
                .bind(a.mock.id_token_lifetime_seconds.unwrap_or(3600))
                .execute(&mut *tx)
                .await?;

                let platforms = [
                    ("web", &a.web.redirect_uris),
                    ("spa", &a.spa.redirect_uris),
                    ("publicClient", &a.public_client.redirect_uris),
                ];
                for (platform, uris) in platforms {
                    for uri in uris {
                        sqlx::query("INSERT OR IGNORE INTO redirect_uris (client_id, platform, uri) VALUES (?, ?, ?)")
                            .bind(&cid)
                            .bind(platform)
                            .bind(uri)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                for uri in &a.post_logout_redirect_uris {
                    sqlx::query("INSERT OR IGNORE INTO post_logout_redirect_uris (client_id, uri) VALUES (?, ?)")
                        .bind(&cid)
                        .bind(uri)
                        .execute(&mut *tx)
                        .await?;
                }
                for s in &a.password_credentials {
                    sqlx::query("INSERT OR IGNORE INTO client_secrets (client_id, hint, sha256) VALUES (?, ?, ?)")
                        .bind(&cid)
                        .bind(s.secret_text.chars().take(3).collect::<String>())
                        .bind(sha256(s.secret_text.as_bytes()))
                        .execute(&mut *tx)
                        .await?;
                }
                for c in self.certs.get(&(ti, ai)).into_iter().flatten() {
                    sqlx::query(
                        "INSERT OR IGNORE INTO client_certificates (client_id, thumbprint_sha1, thumbprint_sha256, public_key_der, cert_der)
                         VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(&cid)
                    .bind(&c.sha1)
                    .bind(&c.sha256)
                    .bind(&c.public_key_der)
                    .bind(&c.cert_der)
                    .execute(&mut *tx)
                    .await?;
                }
                for s in &a.api.oauth2_permission_scopes {
                    let id = s.id.clone().unwrap_or_else(|| {
                        Uuid::new_v5(
                            &Uuid::NAMESPACE_OID,
                            format!("{cid}/{}", s.value).as_bytes(),
                        )
                        .to_string()
                    });
                    sqlx::query(
                        "INSERT INTO scopes (resource_client_id, value, id) VALUES (?, ?, ?)",
                    )
                    .bind(&cid)
                    .bind(&s.value)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                for r in &a.app_roles {
                    let id = r.id.clone().unwrap_or_else(|| {
                        Uuid::new_v5(
                            &Uuid::NAMESPACE_OID,
                            format!("{cid}/role/{}", r.value).as_bytes(),
                        )
                        .to_string()
                    });
                    let users = r.allowed_member_types.iter().any(|m| m == "User");
                    let apps = r.allowed_member_types.iter().any(|m| m == "Application");
                    let types = match (users, apps) {
                        (true, true) => "Both",
                        (false, true) => "Application",
                        _ => "User",
                    };
                    sqlx::query("INSERT INTO app_roles (resource_client_id, value, id, allowed_member_types) VALUES (?, ?, ?, ?)")
                        .bind(&cid)
                        .bind(&r.value)
                        .bind(id)
                        .bind(types)
                        .execute(&mut *tx)
                        .await?;
                }
                for pre in &a.api.pre_authorized_applications {
                    let client = app_id(&pre.app_id).context("pre-authorized app vanished")?;
                    for p in &pre.delegated_permission_ids {
                        let value = a
                            .api
                            .oauth2_permission_scopes
                            .iter()
                            .find(|s| &s.value == p || s.id.as_deref() == Some(p))
                            .map(|s| s.value.clone())
                            .context("pre-authorized scope vanished")?;
                        sqlx::query("INSERT OR IGNORE INTO consents (client_id, resource_client_id, scope) VALUES (?, ?, ?)")
                            .bind(&client)
                            .bind(&cid)
                            .bind(value)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }

            for u in &t.users {
                let salt: [u8; 16] = rand::random();
                let totp = u
                    .totp
                    .as_ref()
                    .map(|t| t.secret.replace(' ', "").to_uppercase());
                sqlx::query(
                    "INSERT INTO users (oid, tenant_id, upn, display_name, given_name, surname, mail,
                        password_salt, password_sha256, mfa_policy, mfa_method, totp_secret)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT(oid) DO UPDATE SET tenant_id = excluded.tenant_id, upn = excluded.upn,
                        display_name = excluded.display_name, given_name = excluded.given_name,
                        surname = excluded.surname, mail = excluded.mail,
                        password_salt = excluded.password_salt, password_sha256 = excluded.password_sha256,
                        mfa_policy = excluded.mfa_policy, mfa_method = excluded.mfa_method,
                        totp_secret = COALESCE(excluded.totp_secret, users.totp_secret)",
                )
                .bind(u.id.to_lowercase())
                .bind(&tid)
                .bind(&u.user_principal_name)
                .bind(&u.display_name)
                .bind(&u.given_name)
                .bind(&u.surname)
                .bind(u.mail.as_ref().unwrap_or(&u.user_principal_name))
                .bind(salt.to_vec())
                .bind(password_digest(&salt, &u.password))
                .bind(u.mfa.as_deref().unwrap_or("none"))
                .bind(&u.mfa_method)
                .bind(totp)
                .execute(&mut *tx)
                .await?;
            }

            let user_oid = |r: &str| -> Option<String> {
                t.users
                    .iter()
                    .find(|u| {
                        u.user_principal_name.eq_ignore_ascii_case(r)
                            || u.id.eq_ignore_ascii_case(r)
                    })
                    .map(|u| u.id.to_lowercase())
            };
            for g in &t.groups {
                sqlx::query("INSERT INTO groups (id, tenant_id, display_name) VALUES (?, ?, ?)")
                    .bind(g.id.to_lowercase())
                    .bind(&tid)
                    .bind(&g.display_name)
                    .execute(&mut *tx)
                    .await?;
                for m in &g.members {
                    sqlx::query(
                        "INSERT OR IGNORE INTO group_members (group_id, user_oid) VALUES (?, ?)",
                    )
                    .bind(g.id.to_lowercase())
                    .bind(user_oid(m).context("group member vanished")?)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for asg in &t.app_role_assignments {
                let resource = app_id(&asg.resource).context("assignment resource vanished")?;
                if let Some(client) = app_id(&asg.principal) {
                    sqlx::query("INSERT OR IGNORE INTO app_role_grants (client_id, resource_client_id, role) VALUES (?, ?, ?)")
                        .bind(client)
                        .bind(&resource)
                        .bind(&asg.role)
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
                let members: Vec<String> = match user_oid(&asg.principal) {
                    Some(oid) => vec![oid],
                    None => t
                        .groups
                        .iter()
                        .find(|g| {
                            g.display_name == asg.principal
                                || g.id.eq_ignore_ascii_case(&asg.principal)
                        })
                        .map(|g| g.members.iter().filter_map(|m| user_oid(m)).collect())
                        .unwrap_or_default(),
                };
                for oid in members {
                    sqlx::query("INSERT OR IGNORE INTO user_role_assignments (user_oid, resource_client_id, role) VALUES (?, ?, ?)")
                        .bind(oid)
                        .bind(&resource)
                        .bind(&asg.role)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn delete_missing(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
    column: &str,
    keep: &[String],
) -> sqlx::Result<()> {
    let placeholders = vec!["?"; keep.len()].join(", ");
    let sql = if keep.is_empty() {
        format!("DELETE FROM {table}")
    } else {
        format!("DELETE FROM {table} WHERE {column} NOT IN ({placeholders})")
    };
    let mut q = sqlx::query(&sql);
    for k in keep {
        q = q.bind(k);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

struct Validator {
    file: String,
    base_dir: Option<PathBuf>,
    certs: HashMap<(usize, usize), Vec<ParsedCert>>,
}

impl Validator {
    fn err(&self, entry: &str, field: &str, message: impl Into<String>) -> FixtureError {
        FixtureError {
            file: self.file.clone(),
            entry: entry.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn validate(&mut self, f: &FixtureFile) -> Result<(), FixtureError> {
        if f.tenants.is_empty() {
            return Err(self.err("(document)", "tenants", "at least one tenant is required"));
        }
        let mut tenant_ids = HashSet::new();
        let mut domains = HashSet::new();
        let mut client_ids = HashSet::new();
        let mut names = HashSet::new();
        let mut upns = HashSet::new();
        let mut oids = HashSet::new();
        let all_apps: Vec<&AppFx> = f
            .tenants
            .iter()
            .flat_map(|t| t.applications.iter())
            .collect();
        for (ti, t) in f.tenants.iter().enumerate() {
            let te = format!("tenants[{ti}]");
            guid(self, &te, "id", &t.id)?;
            if !tenant_ids.insert(t.id.to_lowercase()) {
                return Err(self.err(&te, "id", format!("duplicate tenant id '{}'", t.id)));
            }
            if t.domain.trim().is_empty() || t.domain.contains(['/', ' ']) {
                return Err(self.err(
                    &te,
                    "domain",
                    "must be a domain name such as contoso.onmicrosoft.com",
                ));
            }
            if !domains.insert(t.domain.to_lowercase()) {
                return Err(self.err(&te, "domain", format!("duplicate domain '{}'", t.domain)));
            }
            if let Some(l) = &t.mfa_lockout {
                if l.threshold < 1 || l.duration_seconds < 0 {
                    return Err(self.err(
                        &te,
                        "mfaLockout",
                        "threshold must be at least 1 and durationSeconds not negative",
                    ));
                }
            }
            for (ai, a) in t.applications.iter().enumerate() {
                let e = format!("{te}.applications[{ai}] \"{}\"", a.name);
                if a.name.trim().is_empty() {
                    return Err(self.err(&e, "name", "must not be empty"));
                }
                if !names.insert(a.name.clone()) {
                    return Err(self.err(
                        &e,
                        "name",
                        format!("duplicate application name '{}'", a.name),
                    ));
                }
                guid(self, &e, "appId", &a.app_id)?;
                if !client_ids.insert(a.app_id.to_lowercase()) {
                    return Err(self.err(
                        &e,
                        "appId",
                        format!("duplicate client id '{}'", a.app_id),
                    ));
                }
                if let Some(sp) = &a.service_principal_id {
                    guid(self, &e, "servicePrincipalId", sp)?;
                }
                if let Some(v) = a.access_token_accepted_version {
                    if v != 1 && v != 2 {
                        return Err(self.err(&e, "accessTokenAcceptedVersion", "must be 1 or 2"));
                    }
                }
                for u in &a.identifier_uris {
                    url(self, &e, "identifierUris", u, false)?;
                }
                for u in &a.web.redirect_uris {
                    redirect(self, &e, "web.redirectUris", u, true)?;
                }
                for u in &a.spa.redirect_uris {
                    redirect(self, &e, "spa.redirectUris", u, true)?;
                }
                for u in &a.public_client.redirect_uris {
                    redirect(self, &e, "publicClient.redirectUris", u, false)?;
                }
                if let Some(u) = &a.web.logout_url {
                    url(self, &e, "web.logoutUrl", u, true)?;
                }
                for u in &a.post_logout_redirect_uris {
                    url(self, &e, "postLogoutRedirectUris", u, true)?;
                }
                if a.is_fallback_public_client && !a.password_credentials.is_empty() {
                    return Err(self.err(
                        &e,
                        "passwordCredentials",
                        "a public client cannot have secrets",
                    ));
                }
                for s in &a.password_credentials {
                    if s.secret_text.len() < 8 {
                        return Err(self.err(
                            &e,
                            "passwordCredentials.secretText",
                            "must be at least 8 characters",
                        ));
                    }
                }
                let mut parsed = Vec::new();
                for c in &a.key_credentials {
                    parsed.push(self.certificate(&e, &c.certificate)?);
                }
                self.certs.insert((ti, ai), parsed);
                for s in &a.api.oauth2_permission_scopes {
                    token_value(self, &e, "api.oauth2PermissionScopes.value", &s.value)?;
                    if let Some(id) = &s.id {
                        guid(self, &e, "api.oauth2PermissionScopes.id", id)?;
                    }
                }
                for r in &a.app_roles {
                    token_value(self, &e, "appRoles.value", &r.value)?;
                    if let Some(id) = &r.id {
                        guid(self, &e, "appRoles.id", id)?;
                    }
                    if r.allowed_member_types.is_empty()
                        || r.allowed_member_types
                            .iter()
                            .any(|m| m != "User" && m != "Application")
                    {
                        return Err(self.err(
                            &e,
                            "appRoles.allowedMemberTypes",
                            "must list \"User\" and/or \"Application\"",
                        ));
                    }
                }
                if let Some(p) = &a.mock.refresh_token_reuse {
                    if p != "allow" && p != "detect" {
                        return Err(self.err(
                            &e,
                            "mock.refreshTokenReuse",
                            "must be \"allow\" or \"detect\"",
                        ));
                    }
                }
                for (field, v) in [
                    (
                        "mock.accessTokenLifetimeSeconds",
                        a.mock.access_token_lifetime_seconds,
                    ),
                    (
                        "mock.idTokenLifetimeSeconds",
                        a.mock.id_token_lifetime_seconds,
                    ),
                ] {
                    if v.is_some_and(|v| v <= 0) {
                        return Err(self.err(&e, field, "must be a positive number of seconds"));
                    }
                }
            }
            for (ai, a) in t.applications.iter().enumerate() {
                let e = format!("{te}.applications[{ai}] \"{}\"", a.name);
                for pre in &a.api.pre_authorized_applications {
                    if !all_apps
                        .iter()
                        .any(|x| x.name == pre.app_id || x.app_id.eq_ignore_ascii_case(&pre.app_id))
                    {
                        return Err(self.err(
                            &e,
                            "api.preAuthorizedApplications.appId",
                            format!("unknown application '{}'", pre.app_id),
                        ));
                    }
                    for p in &pre.delegated_permission_ids {
                        if !a
                            .api
                            .oauth2_permission_scopes
                            .iter()
                            .any(|s| &s.value == p || s.id.as_deref() == Some(p))
                        {
                            return Err(self.err(
                                &e,
                                "api.preAuthorizedApplications.delegatedPermissionIds",
                                format!("'{p}' is not a scope of this API"),
                            ));
                        }
                    }
                }
            }
            for (ui, u) in t.users.iter().enumerate() {
                let e = format!("{te}.users[{ui}] \"{}\"", u.user_principal_name);
                guid(self, &e, "id", &u.id)?;
                if !oids.insert(u.id.to_lowercase()) {
                    return Err(self.err(&e, "id", format!("duplicate object id '{}'", u.id)));
                }
                if !u.user_principal_name.contains('@') {
                    return Err(self.err(&e, "userPrincipalName", "must look like name@domain"));
                }
                if !upns.insert(u.user_principal_name.to_lowercase()) {
                    return Err(self.err(&e, "userPrincipalName", "duplicate user principal name"));
                }
                if u.password.is_empty() {
                    return Err(self.err(&e, "password", "must not be empty"));
                }
                if let Some(m) = &u.mfa {
                    if m != "none" && m != "required" {
                        return Err(self.err(&e, "mfa", "must be \"none\" or \"required\""));
                    }
                }
                if let Some(m) = &u.mfa_method {
                    if m != "totp" && m != "webauthn" {
                        return Err(self.err(&e, "mfaMethod", "must be \"totp\" or \"webauthn\""));
                    }
                }
                if let Some(t) = &u.totp {
                    let secret = t.secret.replace(' ', "").to_uppercase();
                    if totp_rs::Secret::Encoded(secret).to_bytes().is_err() {
                        return Err(self.err(&e, "totp.secret", "is not valid base32"));
                    }
                    if t.algorithm.as_deref().is_some_and(|a| a != "SHA1")
                        || t.digits.is_some_and(|d| d != 6)
                        || t.period.is_some_and(|p| p != 30)
                    {
                        return Err(self.err(&e, "totp", "only SHA1, 6 digits, 30 seconds is supported (as Microsoft Authenticator)"));
                    }
                }
            }
            let is_user = |r: &str| {
                t.users.iter().any(|u| {
                    u.user_principal_name.eq_ignore_ascii_case(r) || u.id.eq_ignore_ascii_case(r)
                })
            };
            let mut group_ids = HashSet::new();
            for (gi, g) in t.groups.iter().enumerate() {
                let e = format!("{te}.groups[{gi}] \"{}\"", g.display_name);
                guid(self, &e, "id", &g.id)?;
                if !group_ids.insert(g.id.to_lowercase()) {
                    return Err(self.err(&e, "id", "duplicate group id"));
                }
                for m in &g.members {
                    if !is_user(m) {
                        return Err(self.err(&e, "members", format!("unknown user '{m}'")));
                    }
                }
            }
            for (i, asg) in t.app_role_assignments.iter().enumerate() {
                let e = format!("{te}.appRoleAssignments[{i}]");
                let Some(resource) = t.applications.iter().find(|a| {
                    a.name == asg.resource || a.app_id.eq_ignore_ascii_case(&asg.resource)
                }) else {
                    return Err(self.err(
                        &e,
                        "resource",
                        format!("unknown application '{}'", asg.resource),
                    ));
                };
                let Some(role) = resource.app_roles.iter().find(|r| r.value == asg.role) else {
                    return Err(self.err(
                        &e,
                        "role",
                        format!("'{}' is not an app role of '{}'", asg.role, resource.name),
                    ));
                };
                let principal_app = t.applications.iter().any(|a| {
                    a.name == asg.principal || a.app_id.eq_ignore_ascii_case(&asg.principal)
                });
                let principal_group = t.groups.iter().any(|g| {
                    g.display_name == asg.principal || g.id.eq_ignore_ascii_case(&asg.principal)
                });
                if principal_app {
                    if !role.allowed_member_types.iter().any(|m| m == "Application") {
                        return Err(self.err(
                            &e,
                            "role",
                            format!("'{}' is not allowed for applications", asg.role),
                        ));
                    }
                } else if is_user(&asg.principal) || principal_group {
                    if !role.allowed_member_types.iter().any(|m| m == "User") {
                        return Err(self.err(
                            &e,
                            "role",
                            format!("'{}' is not allowed for users", asg.role),
                        ));
                    }
                } else {
                    return Err(self.err(
                        &e,
                        "principal",
                        format!("no application, user or group '{}'", asg.principal),
                    ));
                }
            }
        }
        Ok(())
    }

    fn certificate(&self, entry: &str, value: &str) -> Result<ParsedCert, FixtureError> {
        let field = "keyCredentials.certificate";
        let pem_text = if value.contains("-----BEGIN") {
            value.to_string()
        } else {
            let path = match &self.base_dir {
                Some(d) => d.join(value),
                None => PathBuf::from(value),
            };
            std::fs::read_to_string(&path).map_err(|e| {
                self.err(
                    entry,
                    field,
                    format!("cannot read '{}': {e}", path.display()),
                )
            })?
        };
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
            .map_err(|e| self.err(entry, field, format!("not a PEM certificate: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| self.err(entry, field, format!("not an X.509 certificate: {e}")))?;
        let spki = &cert.tbs_certificate.subject_pki;
        if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
            return Err(self.err(entry, field, "only RSA certificates are supported"));
        }
        Ok(ParsedCert {
            sha1: crate::keys::thumbprint_sha1(&pem.contents),
            sha256: crate::keys::thumbprint_sha256(&pem.contents),
            public_key_der: spki.subject_public_key.data.to_vec(),
            cert_der: pem.contents.clone(),
        })
    }
}

fn guid(v: &Validator, entry: &str, field: &str, value: &str) -> Result<(), FixtureError> {
    Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|_| v.err(entry, field, format!("'{value}' is not a GUID")))
}

fn url(
    v: &Validator,
    entry: &str,
    field: &str,
    value: &str,
    http_only: bool,
) -> Result<(), FixtureError> {
    let parsed = Url::parse(value)
        .map_err(|e| v.err(entry, field, format!("'{value}' is not a URL: {e}")))?;
    if http_only && !matches!(parsed.scheme(), "http" | "https") {
        return Err(v.err(
            entry,
            field,
            format!("'{value}' must be an http or https URL"),
        ));
    }
    Ok(())
}

/// Entra refuses redirect URIs with a fragment, and (except for native apps) non-http schemes.
fn redirect(
    v: &Validator,
    entry: &str,
    field: &str,
    value: &str,
    http_only: bool,
) -> Result<(), FixtureError> {
    url(v, entry, field, value, http_only)?;
    if value.contains('#') {
        return Err(v.err(
            entry,
            field,
            format!("'{value}' must not contain a fragment"),
        ));
    }
    Ok(())
}

fn token_value(v: &Validator, entry: &str, field: &str, value: &str) -> Result<(), FixtureError> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(v.err(
            entry,
            field,
            format!("'{value}' must be a non-empty value without spaces"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_fixture_is_valid() {
        let f = Fixtures::built_in().unwrap();
        assert_eq!(f.tenants()[0].id, "aaaabbbb-0000-cccc-1111-dddd2222eeee");
        assert_eq!(f.tenants()[0].applications.len(), 4);
        assert_eq!(f.tenants()[0].users.len(), 4);
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = Fixtures::parse(
            "[[tenants]]\nid = \"aaaabbbb-0000-cccc-1111-dddd2222eeee\"\ndomain = \"x.com\"\ndisplayName = \"X\"\ncolour = 1\n",
            "t.toml",
            None,
        )
        .unwrap_err();
        assert_eq!(e.file, "t.toml");
        assert_eq!(e.field, "colour");
        assert_eq!(e.entry, "line 5");
    }
}
