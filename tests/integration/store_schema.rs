//! An empty data dir gets its schema from every migration in one transaction
//! (`store::create_schema`, for the start-up of issue 12 item 1): the same schema, and the same
//! `_sqlx_migrations` rows, as sqlx's migrator applying them one by one.

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
