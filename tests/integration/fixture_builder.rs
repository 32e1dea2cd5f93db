//! A builder over the built-in fixture: tests change the fields they need by name instead of
//! editing TOML text.

#![allow(dead_code)]

use toml::{Table, Value};

use crate::helpers::TestApp;

pub struct Fixture {
    doc: Table,
}

impl Fixture {
    /// The built-in well-known tenant.
    pub fn builtin() -> Self {
        Fixture {
            doc: entra_mock::fixtures::DEFAULT_FIXTURE.parse().unwrap(),
        }
    }

    fn tenant_table(&mut self) -> &mut Table {
        self.doc["tenants"].as_array_mut().unwrap()[0]
            .as_table_mut()
            .unwrap()
    }

    fn entry(&mut self, list: &str, key: &str, name: &str) -> &mut Table {
        self.tenant_table()[list]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .map(|v| v.as_table_mut().unwrap())
            .find(|t| t.get(key).and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no {list} entry with {key} = {name:?}"))
    }

    /// Sets a field of the tenant; `path` is dotted (`mfaLockout.threshold`).
    pub fn tenant(mut self, path: &str, value: impl Into<Value>) -> Self {
        set(self.tenant_table(), path, value.into());
        self
    }

    /// Sets a field of the application named `name` (`mock.refreshTokenReuse`).
    pub fn app(mut self, name: &str, path: &str, value: impl Into<Value>) -> Self {
        set(self.entry("applications", "name", name), path, value.into());
        self
    }

    /// Sets a field of the user `upn`.
    pub fn user(mut self, upn: &str, path: &str, value: impl Into<Value>) -> Self {
        set(
            self.entry("users", "userPrincipalName", upn),
            path,
            value.into(),
        );
        self
    }

    /// Removes a field of the application named `name`.
    pub fn app_without(mut self, name: &str, field: &str) -> Self {
        self.entry("applications", "name", name).remove(field);
        self
    }

    /// Appends an entry (an inline TOML table, e.g. `{ principal = "bob", ... }`) to a list of the
    /// tenant (`appRoleAssignments`, `groups`, ...).
    pub fn push(mut self, list: &str, entry: &str) -> Self {
        let table: Table = format!("x = {entry}").parse::<Table>().unwrap()["x"]
            .as_table()
            .unwrap()
            .clone();
        self.tenant_table()
            .entry(list)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .unwrap()
            .push(Value::Table(table));
        self
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(&self.doc).unwrap()
    }

    /// Writes the fixture and spawns a server on it; the directory lives as long as the guard.
    pub async fn spawn(self) -> (TestApp, tempfile::TempDir) {
        let (app, dir) = self.try_spawn().await;
        (app.unwrap(), dir)
    }

    /// Writes the fixture and expects the server to refuse it: the error's text with its causes.
    pub async fn refused(self) -> String {
        match self.try_spawn().await.0 {
            Ok(_) => panic!("the fixture was accepted"),
            Err(e) => format!("{e:#}"),
        }
    }

    async fn try_spawn(self) -> (anyhow::Result<TestApp>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fixture.toml");
        std::fs::write(&path, self.to_toml()).unwrap();
        let app = TestApp::spawn_with_fixtures(&dir.path().join("data"), path).await;
        (app, dir)
    }
}

fn set(table: &mut Table, path: &str, value: Value) {
    let mut t = table;
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    for p in parts {
        t = t
            .entry(p)
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .unwrap();
    }
    t.insert(last.to_string(), value);
}
