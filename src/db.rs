//! Database connection, migrations and instance settings.

use std::{sync::Arc, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveValue::Set,
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait,
    Statement, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::metrics::Metrics;

/// The PostgreSQL advisory lock key held while migrating, so that two gateways starting at the
/// same time do not both run the same migration.
const MIGRATION_LOCK_KEY: i64 = 0x7468_7265_6164; // "thread"

/// Connects to `url`, counts every statement into `metrics` and hands the bus's statements to
/// `tap` (the in-process bus on SQLite; see `bus::local`).
///
/// SQLite runs in WAL mode on a single pooled connection: SQLite admits one writer at a time
/// anyway, and one connection makes concurrent write transactions queue in the pool instead of
/// failing with `SQLITE_BUSY` when a read transaction upgrades.
pub async fn connect(
    url: &str,
    metrics: Arc<Metrics>,
    tap: crate::bus::local::Tap,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        options.max_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    } else {
        options.max_connections(16).min_connections(1);
    }
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(move |info| {
        metrics.record_statement(info.failed);
        tap.observe(info.statement);
    });
    Ok(db)
}

/// Applies every pending migration. On PostgreSQL this holds an advisory lock inside one
/// transaction, so concurrent starts migrate once and DDL is all-or-nothing.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await
    } else {
        Migrator::up(db, None).await
    }
}

/// Reads an instance setting.
pub async fn setting<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(entity::instance_setting::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|s| s.value))
}

/// Returns the instance setting `key`, storing `make()` first if it is unset. When two
/// processes race, the first write wins and both return it.
pub async fn setting_or_insert<C: ConnectionTrait>(
    db: &C,
    key: &str,
    make: impl FnOnce() -> String,
) -> Result<String, sea_orm::DbErr> {
    if let Some(value) = setting(db, key).await? {
        return Ok(value);
    }
    let row = entity::instance_setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(make()),
    };
    entity::instance_setting::Entity::insert(row)
        .on_conflict_do_nothing_on([entity::instance_setting::Column::Key])
        .exec_without_returning(db)
        .await?;
    setting(db, key)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("instance setting {key}")))
}

/// Fills `buf` with random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing at start-up leaves nothing safe to do.
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    buf
}
