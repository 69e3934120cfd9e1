//! The bus's catch-up read: what was written since the last one, as signals. Run after every
//! (re)connection of the listener and on the slow safety interval, so that a notification
//! lost while the listening connection was down delays an update instead of losing it. One
//! query per kind of row per run, whatever the number of subscribers.

use sea_orm::{DatabaseConnection, FromQueryResult};
use tokio::sync::Mutex;

use super::{Hub, Signal};
use crate::{error::ApiResult, service::sql::Sql};

/// Rows read per statement while catching up.
const BATCH: u64 = 1000;

/// Where the catch-up read stands (the newest row ids seen).
#[derive(Debug, Default)]
pub struct Reader {
    marks: Mutex<Option<Marks>>,
}

#[derive(Clone, Copy, Debug)]
struct Marks {
    event: i64,
    notification: i64,
}

#[derive(FromQueryResult)]
struct EventRow {
    id: i64,
    organization_id: i64,
    contact_id: i64,
    kind: String,
    audience_user_id: Option<i64>,
}

#[derive(FromQueryResult)]
struct NotificationRow {
    id: i64,
    organization_id: i64,
    user_id: i64,
}

#[derive(FromQueryResult)]
struct Newest {
    id: Option<i64>,
}

async fn newest(db: &DatabaseConnection, table: &str) -> ApiResult<i64> {
    let sql = format!("SELECT MAX(id) AS id FROM {table}");
    let row = Newest::find_by_statement(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .one(db)
    .await?;
    Ok(row.and_then(|r| r.id).unwrap_or(0))
}

impl Reader {
    /// Signals `hub` about every timeline event and notification written since the last call
    /// (the first call only notes where things stand). Returns how many rows it found.
    pub async fn catch_up(&self, db: &DatabaseConnection, hub: &Hub) -> ApiResult<usize> {
        // One catch-up at a time: the marks move forward only.
        let mut marks = self.marks.lock().await;
        let Some(mut now) = *marks else {
            let event = newest(db, "timeline_events").await?;
            *marks = Some(Marks {
                event,
                notification: newest(db, "notifications").await?,
            });
            hub.forget_events_up_to(event);
            return Ok(0);
        };
        let mut found = 0;
        loop {
            let mut sql = Sql::new(db.get_database_backend());
            sql.push(
                "SELECT id, organization_id, contact_id, kind, audience_user_id \
                 FROM timeline_events WHERE id > ",
            )
            .bind(now.event)
            .push(" ORDER BY id")
            .limit(BATCH);
            let rows = EventRow::find_by_statement(sql.build()).all(db).await?;
            for row in &rows {
                now.event = now.event.max(row.id);
                // Its signals (the reminder's too: one transaction, one delivery) arrived.
                if !hub.missed_event(row.id) {
                    continue;
                }
                hub.deliver(Signal::Timeline {
                    org: row.organization_id,
                    contact: row.contact_id,
                    event: row.id,
                });
                if row.kind == "REMINDER_FIRED"
                    && let Some(user) = row.audience_user_id
                {
                    hub.deliver(Signal::Reminders {
                        org: row.organization_id,
                        user,
                    });
                }
            }
            found += rows.len();
            if (rows.len() as u64) < BATCH {
                break;
            }
        }
        loop {
            let mut sql = Sql::new(db.get_database_backend());
            sql.push("SELECT id, organization_id, user_id FROM notifications WHERE id > ")
                .bind(now.notification)
                .push(" ORDER BY id")
                .limit(BATCH);
            let rows = NotificationRow::find_by_statement(sql.build())
                .all(db)
                .await?;
            for row in &rows {
                hub.deliver(Signal::Notifications {
                    org: row.organization_id,
                    user: row.user_id,
                });
                now.notification = now.notification.max(row.id);
            }
            found += rows.len();
            if (rows.len() as u64) < BATCH {
                break;
            }
        }
        hub.forget_events_up_to(now.event);
        *marks = Some(now);
        Ok(found)
    }
}
