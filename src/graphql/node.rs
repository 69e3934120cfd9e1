//! Global object identification: the `Node` interface and `node(id:)`.

use async_graphql::{Context, ID, Interface, Object, Result};

use crate::{
    graphql::{
        contacts::Contact,
        context::{Caller, ContextExt},
        conversations::{Channel, Conversation, Message},
        notes::Note,
        notifications::Notification,
        tasks::Task,
        users::User,
    },
    ids::{self, Kind},
    service,
};

/// Anything with a global ID, resolvable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The record's opaque global ID."))]
pub enum Node {
    /// A user.
    User(User),
    /// A contact.
    Contact(Contact),
    /// A note.
    Note(Note),
    /// A task.
    Task(Task),
    /// A conversation.
    Conversation(Conversation),
    /// A message.
    Message(Message),
    /// A channel.
    Channel(Channel),
    /// One of the caller's notifications.
    Notification(Notification),
}

/// Looking any record up by its global ID.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any record by its global ID, if the caller may see it; null otherwise (a missing and a
    /// forbidden record look the same).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let Caller { db, actor } = ctx.caller()?;
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
                .map(|n| Node::Note(Note::new(n))),
            Some((Kind::Task, id)) => service::tasks::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|t| Node::Task(Task::new(t))),
            Some((Kind::Conversation, id)) => service::conversations::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|c| Node::Conversation(Conversation::new(c))),
            Some((Kind::Message, id)) => service::conversations::messages_by_id(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|m| Node::Message(Message::new(m))),
            Some((Kind::Channel, id)) => service::channels::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|c| Node::Channel(Channel(c))),
            Some((Kind::Notification, id)) => service::notifications::get_many(db, actor, &[id])
                .await?
                .pop()
                .map(|n| Node::Notification(Notification(n))),
            _ => None,
        };
        Ok(found)
    }
}
