//! The reminders mutations.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        reminders::types::Reminder,
    },
    ids::{self, Kind},
    service,
};

/// Dismissing and snoozing reminders.
#[derive(Default)]
pub struct RemindersMutation;

#[Object]
impl RemindersMutation {
    /// Dismisses one of the caller's reminders.
    async fn dismiss_reminder(&self, ctx: &Context<'_>, id: ID) -> Result<Reminder> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Reminder, &id)?;
        Ok(Reminder(service::reminders::dismiss(db, actor, id).await?))
    }

    /// Snoozes one of the caller's reminders until a later time (it is pending again).
    async fn snooze_reminder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Reminder> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Reminder, &id)?;
        service::validate::timestamp("until", Some(until))?;
        Ok(Reminder(
            service::reminders::snooze(db, actor, id, until).await?,
        ))
    }
}
