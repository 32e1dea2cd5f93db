//! An empty data dir gets its schema from one script, `src/store/schema.sql`, in one transaction
//! (`store::create_schema`, for the start-up of issue 12 item 1): the same schema, and the same
//! `_sqlx_migrations` rows, as sqlx's migrator applying the migrations one by one. The script is
//! what that run leaves in `sqlite_master`; `ENTRA_MOCK_WRITE_SCHEMA=1` writes it again.

use sqlx::{Connection, SqliteConnection};

type Objects = Vec<(String, String, String)>;
type Columns = Vec<(String, String, bool, bool)>;
type Recorded = Vec<(i64, Vec<u8>, bool)>;

/// The schema (every table, index and trigger with its SQL; sqlx's own table by its columns,
/// its SQL text being laid out as sqlx writes it), and the migrations recorded.
async fn schema(conn: &mut SqliteConnection) -> (Objects, Columns, Recorded) {
    let objects = sqlx::query_as(
        "SELECT type, name, coalesce(sql, '') FROM sqlite_master
         WHERE name != '_sqlx_migrations' ORDER BY type, name",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let columns = sqlx::query_as(
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info('_sqlx_migrations') ORDER BY cid",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let migrations =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    (objects, columns, migrations)
}

/// The script that makes the schema `conn` holds: every table (sqlx's `_sqlx_migrations` as sqlx
/// made it), index, view and trigger as SQLite keeps its SQL, tables first (none of them needs another to exist), then what is built
/// on them, each kind in the order it was created.
async fn schema_script(conn: &mut SqliteConnection, through: i64) -> String {
    let statements: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master
         WHERE sql IS NOT NULL
         ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END,
                  rowid",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut script = format!(
        "-- through migration {through}\n\
         -- The schema migrations/ make, as SQLite keeps it: written by the test store_schema\n\
         -- (ENTRA_MOCK_WRITE_SCHEMA=1), read by store::create_schema. Do not edit.\n\n"
    );
    for statement in statements {
        script.push_str(&statement);
        script.push_str(";\n\n");
    }
    script
}

#[tokio::test]
async fn the_schema_script_is_what_the_migrations_make() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("each.sqlite");
    let mut each = SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", path.display()))
        .await
        .unwrap();
    let migrator = sqlx::migrate!("./migrations");
    migrator.run(&mut each).await.unwrap();
    let last = migrator.iter().map(|m| m.version).max().unwrap();
    let script = schema_script(&mut each, last).await;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/schema.sql");
    if std::env::var_os("ENTRA_MOCK_WRITE_SCHEMA").is_some() {
        std::fs::write(&file, &script).unwrap();
    }
    let stored = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        stored == script,
        "src/store/schema.sql is not what the migrations make: write it again with \
         `ENTRA_MOCK_WRITE_SCHEMA=1 cargo test --release --test integration store_schema`"
    );
}

#[tokio::test]
async fn an_empty_store_gets_the_schema_the_migrations_make_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    // The store's way: one transaction.
    let path = dir.path().join("one.sqlite");
    let store = entra_mock::store::Store::open(&path).await.unwrap();
    drop(store);
    let mut one = SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    // sqlx's way: a transaction per migration.
    let path = dir.path().join("each.sqlite");
    let mut each = SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::migrate!("./migrations").run(&mut each).await.unwrap();

    let (one_objects, one_columns, one_migrations) = schema(&mut one).await;
    let (each_objects, each_columns, each_migrations) = schema(&mut each).await;
    assert!(one_objects
        .iter()
        .any(|(_, name, _)| name == "applications"));
    assert_eq!(one_objects, each_objects);
    assert_eq!(one_columns.len(), 6);
    assert_eq!(one_columns, each_columns);
    assert_eq!(
        one_migrations.len(),
        sqlx::migrate!("./migrations").iter().count()
    );
    assert_eq!(one_migrations, each_migrations);
    // The migrator finds nothing left to do on the store's file, and refuses none of it.
    sqlx::migrate!("./migrations").run(&mut one).await.unwrap();
}

/// Migration 33 types the refresh tokens stored before it: a chain of a public app (by its
/// `isFallbackPublicClient`, the rule before) or a SPA chain stays public, the others confidential.
#[tokio::test]
async fn refresh_tokens_stored_before_the_client_type_was_kept_get_their_apps_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", path.display()))
        .await
        .unwrap();
    let all = sqlx::migrate!("./migrations");
    let mut before = sqlx::migrate!("./migrations");
    before.migrations = std::borrow::Cow::Owned(
        all.iter()
            .filter(|m| m.version < 33)
            .cloned()
            .collect::<Vec<_>>(),
    );
    before.run(&mut conn).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut conn)
        .await
        .unwrap();
    for (id, client_type) in [("web-app", "confidential"), ("public-app", "public")] {
        sqlx::query(
            "INSERT INTO applications (client_id, tenant_id, name, display_name,
                service_principal_id, client_type) VALUES (?, 't', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(id)
        .bind(id)
        .bind(id)
        .bind(client_type)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for (token, client, spa) in [
        ("web", "web-app", false),
        ("web-spa", "web-app", true),
        ("public", "public-app", false),
    ] {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_sha256, family_id, client_id, user_oid, scope,
                amr_json, auth_time, spa, family_created_at, created_at)
             VALUES (?, ?, ?, 'u', 'openid', '[]', 0, ?, 0, 0)",
        )
        .bind(token.as_bytes())
        .bind(token)
        .bind(client)
        .bind(spa)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    all.run(&mut conn).await.unwrap();
    let typed: Vec<(String, bool)> =
        sqlx::query_as("SELECT family_id, public_client FROM refresh_tokens ORDER BY family_id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        typed,
        vec![
            ("public".to_string(), true),
            ("web".to_string(), false),
            ("web-spa".to_string(), true),
        ]
    );
}
