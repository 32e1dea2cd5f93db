//! Directory changes at run time (`/_mock/users`, `/_mock/applications`, `/_mock/groups`,
//! `/_mock/assignments`) and `POST /_mock/reset`. A change edits the fixture document the server
//! started from, in the fixture format (camelCase JSON of the same fields), and goes through the
//! same checks and the same one-transaction write as a fixture file; the directory is then
//! replaced, so the change is usable by the next request. Changes are stored, so they survive a
//! restart on the same data dir (until `--fixtures` is applied again at start).

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::document::{parse, refuse};
use crate::error::{Error, Result};
use crate::keys::rotation::Phase;
use crate::state::AppState;

/// A collection of the fixture document that the test-control API edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Users,
    Applications,
    Groups,
    Assignments,
}

impl Collection {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "users" => Some(Collection::Users),
            "applications" => Some(Collection::Applications),
            "groups" => Some(Collection::Groups),
            "assignments" => Some(Collection::Assignments),
            _ => None,
        }
    }

    /// The list's name in a tenant of the fixture format.
    fn field(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Applications => "applications",
            Collection::Groups => "groups",
            Collection::Assignments => "appRoleAssignments",
        }
    }

    /// Whether `entry` is the one `key` names (case-insensitive).
    fn is(self, entry: &Value, key: &str) -> bool {
        let field = |name: &str| {
            entry[name]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(key))
        };
        match self {
            Collection::Users => field("id") || field("userPrincipalName"),
            Collection::Applications => field("appId") || field("name"),
            Collection::Groups => field("id") || field("displayName"),
            Collection::Assignments => format!(
                "{}|{}|{}",
                entry["principal"].as_str().unwrap_or_default(),
                entry["resource"].as_str().unwrap_or_default(),
                entry["role"].as_str().unwrap_or_default()
            )
            .eq_ignore_ascii_case(key),
        }
    }

    /// The key of an entry, as [`Collection::is`] matches it.
    fn key_of(self, entry: &Value) -> String {
        let s = |name: &str| entry[name].as_str().unwrap_or_default().to_string();
        match self {
            Collection::Users => s("id"),
            Collection::Applications => s("appId"),
            Collection::Groups => s("id"),
            Collection::Assignments => {
                format!("{}|{}|{}", s("principal"), s("resource"), s("role"))
            }
        }
    }
}

/// The tenant an entry goes to: the one named, else the first.
fn tenant_mut<'a>(doc: &'a mut Value, tenant: Option<&str>) -> Result<&'a mut Map<String, Value>> {
    let tenants = doc["tenants"]
        .as_array_mut()
        .ok_or_else(|| refuse("the fixtures have no tenants."))?;
    let t = match tenant {
        None => tenants.first_mut(),
        Some(want) => tenants.iter_mut().find(|t| {
            ["id", "domain"]
                .iter()
                .any(|f| t[*f].as_str().is_some_and(|v| v.eq_ignore_ascii_case(want)))
        }),
    };
    t.and_then(Value::as_object_mut)
        .ok_or_else(|| Error::NotFound(format!("tenant '{}'", tenant.unwrap_or("(first)"))))
}

/// Checks `doc` as a fixture file, writes it, saves it for restarts, and replaces the directory.
async fn commit(state: &AppState, base_dir: Option<PathBuf>, doc: &Value) -> Result<()> {
    let fixtures = parse(doc, base_dir)?;
    fixtures
        .apply(&state.store)
        .await
        .map_err(Error::Internal)?;
    state.fixtures.save(doc)?;
    let directory = state.store.load_directory().await?;
    state.set_directory(directory);
    Ok(())
}

/// Lists a collection (secrets included: these are the fixtures' own test values).
pub async fn list(state: &AppState, c: Collection) -> Result<Value> {
    let doc = state.fixtures.current.lock().await;
    let mut out = Vec::new();
    for t in doc["tenants"].as_array().into_iter().flatten() {
        for e in t[c.field()].as_array().into_iter().flatten() {
            out.push(e.clone());
        }
    }
    Ok(Value::Array(out))
}

/// Adds an entry (in the fixture format) to a tenant.
pub async fn create(
    state: &AppState,
    c: Collection,
    tenant: Option<&str>,
    entry: Value,
) -> Result<Value> {
    if !entry.is_object() {
        return Err(refuse(
            "give the entry as a JSON object in the fixture format.",
        ));
    }
    let key = c.key_of(&entry);
    let mut doc = state.fixtures.current.lock().await;
    let mut next = doc.clone();
    let exists = next["tenants"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t[c.field()].as_array().into_iter().flatten())
        .any(|e| !key.is_empty() && c.is(e, &key));
    if exists {
        return Err(refuse(format!("'{key}' exists already: PATCH it instead.")));
    }
    let t = tenant_mut(&mut next, tenant)?;
    let list = t
        .entry(c.field())
        .or_insert_with(|| Value::Array(Vec::new()));
    match list.as_array_mut() {
        Some(a) => a.push(entry.clone()),
        None => {
            return Err(Error::Internal(anyhow::anyhow!(
                "a fixture list is not a list"
            )))
        }
    }
    commit(state, state.fixtures.base_dir.clone(), &next).await?;
    *doc = next;
    Ok(entry)
}

/// Changes fields of an entry (`null` removes a field).
pub async fn patch(state: &AppState, c: Collection, key: &str, changes: Value) -> Result<Value> {
    let Value::Object(changes) = changes else {
        return Err(refuse("give the changed fields as a JSON object."));
    };
    let mut doc = state.fixtures.current.lock().await;
    let mut next = doc.clone();
    let entry = find_mut(&mut next, c, key)?;
    if let Value::Object(e) = entry {
        for (k, v) in changes {
            match v {
                Value::Null => e.remove(&k),
                v => e.insert(k, v),
            };
        }
    }
    let changed = entry.clone();
    commit(state, state.fixtures.base_dir.clone(), &next).await?;
    *doc = next;
    Ok(changed)
}

/// Removes an entry; what depended on it goes with it (as when a fixture file drops it).
pub async fn delete(state: &AppState, c: Collection, key: &str) -> Result<()> {
    let mut doc = state.fixtures.current.lock().await;
    let mut next = doc.clone();
    find_mut(&mut next, c, key)?;
    for t in next["tenants"].as_array_mut().into_iter().flatten() {
        if let Some(list) = t[c.field()].as_array_mut() {
            list.retain(|e| !c.is(e, key));
        }
    }
    commit(state, state.fixtures.base_dir.clone(), &next).await?;
    *doc = next;
    Ok(())
}

fn find_mut<'a>(doc: &'a mut Value, c: Collection, key: &str) -> Result<&'a mut Value> {
    doc["tenants"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .flat_map(|t| t[c.field()].as_array_mut().into_iter().flatten())
        .find(|e| c.is(e, key))
        .ok_or_else(|| Error::NotFound(format!("{} '{key}'", c.field())))
}

/// `POST /_mock/reset`: the directory as the fixtures say, no sessions, codes, refresh tokens,
/// sign-ins in progress, failure counts, run-time enrolments, faults or logged requests, and the
/// clock at real time. Keys are kept unless `keys` (then a new key signs at once).
pub async fn reset(state: &AppState, keys: bool) -> Result<()> {
    let mut doc = state.fixtures.current.lock().await;
    let original = state.fixtures.original.clone();
    {
        let mut tx = state.store.write().await?;
        for table in [
            "session_apps",
            "code_families",
            "refresh_tokens",
            "auth_codes",
            "sso_sessions",
            "device_codes",
            "consent_grants",
            "used_assertions",
            "webauthn_credentials",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(tx.conn().await?)
                .await?;
        }
        // Users are written again from the fixtures below; what they enrolled at run time and
        // their failure counts go.
        sqlx::query("DELETE FROM users")
            .execute(tx.conn().await?)
            .await?;
        tx.commit().await?;
    }
    commit(state, state.fixtures.base_dir.clone(), &original).await?;
    *doc = original;
    state.faults.remove(None);
    state.requests.clear();
    state.clock.set_offset(0);
    // Sign-ins in progress live in their pages, sealed: a new key ends them all.
    state.flows.reset().map_err(|e| Error::Internal(e.into()))?;
    if keys {
        state
            .keys
            .rotate(&state.store, Phase::RollNow, state.clock.unix())
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    }
    Ok(())
}
