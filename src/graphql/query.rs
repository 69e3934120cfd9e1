//! The query root.

use async_graphql::{Context, ID, MergedObject, Object, Result, connection::Connection};

use super::{
    connection::{id_connection, id_window},
    context::ContextExt,
    conversations::{
        Channel, Conversation, ConversationConnectionFields, ConversationFilter, Message,
        inbox_page,
    },
    notes::{Note, NoteConnectionFields, NoteFilter, notes_page},
    prefetch,
    reminders::{Reminder, ReminderFilter, reminders_page},
    settings::SettingsQuery,
    tasks::{Task, TaskConnectionFields, TaskFilter, TaskOrder, tasks_page},
    timeline::{self, TimelineEvent, TimelineFilter},
    types::{Contact, ContactConnectionFields, ContactFilter, Node, User, UserConnectionFields},
};
use crate::{
    error::ApiError,
    ids::{self, Kind},
    service,
};

/// Read operations: the core queries merged with the settings queries.
#[derive(MergedObject, Default)]
pub struct QueryRoot(CoreQuery, SettingsQuery);

/// Users, contacts, notes, tasks and the timeline.
#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// The caller.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let actor = ctx.actor()?;
        Ok(User(
            service::users::get(ctx.db()?, actor, actor.user_id).await?,
        ))
    }

    /// Any record by its global ID, if the caller may see it; null otherwise (a missing and a
    /// forbidden record look the same).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let actor = ctx.actor()?;
        let db = ctx.db()?;
        let found = match ids::decode_any(&id) {
            Some((Kind::User, id)) => service::users::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|u| Node::User(User(u))),
            Some((Kind::Contact, id)) => service::contacts::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|c| Node::Contact(Contact::new(c))),
            Some((Kind::Note, id)) => service::notes::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|n| Node::Note(Note::single(n))),
            Some((Kind::Task, id)) => service::tasks::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|t| Node::Task(Task::single(t))),
            Some((Kind::Conversation, id)) => service::conversations::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|c| Node::Conversation(Conversation::single(c))),
            Some((Kind::Message, id)) => service::conversations::messages_by_id(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|m| Node::Message(Message::single(m))),
            Some((Kind::Channel, id)) => service::channels::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|c| Node::Channel(Channel(c))),
            _ => None,
        };
        Ok(found)
    }

    /// The users the caller may see: staff see every staff user and the customer users of the
    /// contacts they may see; a customer user sees themselves and their consultant.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, User, UserConnectionFields>> {
        let actor = ctx.actor()?;
        let window = id_window(first, after.as_deref(), last, before.as_deref())?;
        let (rows, has_next, has_previous) = service::users::list(ctx.db()?, actor, window).await?;
        Ok(id_connection(
            rows.into_iter().map(User).collect(),
            has_next,
            has_previous,
            |u| u.0.id,
            UserConnectionFields,
        ))
    }

    /// One user by ID; `NOT_FOUND` when the caller may not see it.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        ctx.actor()?;
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(
            service::users::get(ctx.db()?, ctx.actor()?, id).await?,
        ))
    }

    /// The contacts the caller may see, oldest first, filtered by text and archived state.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ContactFilter>,
    ) -> Result<Connection<String, Contact, ContactConnectionFields>> {
        let actor = ctx.actor()?;
        let window = id_window(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default().into_service()?;
        if filter
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            return Err(
                ApiError::bad_input("filter.search", "is longer than 200 characters").into(),
            );
        }
        let (rows, has_next, has_previous) =
            service::contacts::list(ctx.db()?, actor, &filter, window).await?;
        let prefetch = prefetch::contacts(ctx, &prefetch::node_selections(ctx), &rows).await?;
        Ok(id_connection(
            rows.into_iter()
                .map(|row| Contact::with_prefetch(row, prefetch.clone()))
                .collect(),
            has_next,
            has_previous,
            |c| c.row.contact.id,
            ContactConnectionFields { filter },
        ))
    }

    /// A contact's timeline, newest first: what happened to it, as far as the caller may see
    /// (another user's private note is not there; a customer user sees what is shared with them).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, None, child_complexity)")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TimelineFilter>,
    ) -> Result<Connection<String, TimelineEvent>> {
        ctx.actor()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        timeline::page(ctx, contact_id, first, after, filter).await
    }

    /// The notes the caller may see across contacts, newest first: their own, the team's on
    /// contacts they may see, and (for a customer user) those shared with the customer.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, None, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NoteFilter>,
    ) -> Result<Connection<String, Note, NoteConnectionFields>> {
        notes_page(ctx, None, first, after, filter).await
    }

    /// One note by ID; `NOT_FOUND` when the caller may not see it.
    async fn note(&self, ctx: &Context<'_>, id: ID) -> Result<Note> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Note, &id)?;
        Ok(Note::single(
            service::notes::get(ctx.db()?, actor, id).await?,
        ))
    }

    /// The tasks the caller may see, ordered by creation (default, newest first) or schedule.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, None, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> Result<Connection<String, Task, TaskConnectionFields>> {
        tasks_page(ctx, None, first, after, filter, order_by).await
    }

    /// One task by ID; `NOT_FOUND` when the caller may not see it.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Task> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Task, &id)?;
        Ok(Task::single(
            service::tasks::get(ctx.db()?, actor, id).await?,
        ))
    }

    /// The caller's own reminders, soonest first; filter by status.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, None, child_complexity)")]
    async fn reminders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ReminderFilter>,
    ) -> Result<Connection<String, Reminder>> {
        reminders_page(ctx, first, after, filter).await
    }

    /// The channels the caller may use: all of the organization's for owners and admins,
    /// granted ones for members.
    #[graphql(
        complexity = "crate::graphql::connection::list_cost(crate::graphql::connection::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn channels(&self, ctx: &Context<'_>) -> Result<Vec<Channel>> {
        let actor = ctx.actor()?;
        Ok(service::channels::list(ctx.db()?, actor)
            .await?
            .into_iter()
            .map(Channel)
            .collect())
    }

    /// The caller's inbox, newest activity first: conversations whose contact and channel the
    /// caller may both read.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, None, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ConversationFilter>,
    ) -> Result<Connection<String, Conversation, ConversationConnectionFields>> {
        inbox_page(ctx, None, first, after, filter).await
    }

    /// One conversation by ID; `NOT_FOUND` without access to its contact and channel.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Conversation, &id)?;
        Ok(Conversation::single(
            service::conversations::get(ctx.db()?, actor, id).await?,
        ))
    }

    /// One contact by ID; `NOT_FOUND` when it does not exist or the caller may not see it.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        ctx.actor()?;
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(
            service::contacts::get(ctx.db()?, ctx.actor()?, id).await?,
        ))
    }
}
