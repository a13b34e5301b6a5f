//! Dropping a PostgreSQL test database from a `Drop` impl, shared by the store's unit tests
//! and the multi-node integration tests (which include this file by path).

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// Drops database `name` through `admin`, `WITH (FORCE)` so that connections still open
/// end. Runs on a thread with a runtime of its own and waits for it: callable from a `Drop`
/// inside a test's runtime, or while it unwinds. Failures are ignored (nothing to drop).
pub fn drop_database(admin: &PgConnectOptions, name: &str) {
    let admin = admin.clone();
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect_with(&admin).await.ok()?;
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
            conn.close().await.ok()
        })
    })
    .join();
}
