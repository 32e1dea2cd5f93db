//! The fixture document the server runs on, kept for run-time changes (see
//! [`super::directory`]): as loaded at start, as changed since, and saved beside the database.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fixtures::Fixtures;

/// A refused change, in Entra's shape.
pub(crate) fn refuse(reason: impl Into<String>) -> Error {
    Error::InvalidParameter {
        name: "body",
        reason: reason.into(),
    }
}

/// The fixture document the server runs on: as loaded at start, and as changed since. Changes
/// are saved beside the database with the digest of the fixture text they apply to, so a restart
/// with the same fixtures keeps them and a restart with other fixtures starts from those.
#[derive(Debug)]
pub struct FixtureDocument {
    pub(crate) original: Value,
    pub(crate) current: tokio::sync::Mutex<Value>,
    pub(crate) base_dir: Option<PathBuf>,
    saved: PathBuf,
    source_sha256: String,
}

/// The file of saved run-time changes, in the data dir.
const SAVED_CHANGES: &str = "runtime-fixtures.json";

impl FixtureDocument {
    /// The document of a fixture text (TOML), kept as JSON for editing, with the changes saved in
    /// `data_dir` for this same text, if any.
    pub fn open(
        text: &str,
        base_dir: Option<PathBuf>,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let table: toml::Table = toml::from_str(text)?;
        let original = serde_json::to_value(table)?;
        let source_sha256: String = crate::crypto::sha256(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let saved = data_dir.join(SAVED_CHANGES);
        let current = std::fs::read(&saved)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter(|v| v["source_sha256"] == source_sha256.as_str())
            .map(|v| v["document"].clone())
            .unwrap_or_else(|| original.clone());
        Ok(FixtureDocument {
            current: tokio::sync::Mutex::new(current),
            original,
            base_dir,
            saved,
            source_sha256,
        })
    }

    /// The fixtures to write at start: the saved changes, or the file as it is.
    pub async fn fixtures(&self) -> anyhow::Result<Fixtures> {
        let doc = self.current.lock().await;
        parse(&doc, self.base_dir.clone()).map_err(|e| anyhow::anyhow!("{e}"))
    }

    pub(crate) fn save(&self, doc: &Value) -> Result<()> {
        let body = serde_json::json!({ "source_sha256": self.source_sha256, "document": doc });
        std::fs::write(&self.saved, body.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("saving run-time fixture changes: {e}")))
    }
}

pub(crate) fn parse(doc: &Value, base_dir: Option<PathBuf>) -> Result<Fixtures> {
    let table: toml::Table =
        serde_json::from_value(without_nulls(doc.clone())).map_err(|e| refuse(format!("{e}")))?;
    let text = toml::to_string(&table).map_err(|e| refuse(format!("{e}")))?;
    Fixtures::parse(&text, "test-control change", base_dir).map_err(|e| refuse(e.to_string()))
}

/// `doc` without its `null` members: a field set to null is a field left out, as in a manifest
/// from the portal (`"source": null` in `optionalClaims`); TOML has no null.
fn without_nulls(doc: Value) -> Value {
    match doc {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}
