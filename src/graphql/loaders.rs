//! The request's loaders: one [`Batcher`] for each kind of related row a field shows, each
//! reading through the service layer as the caller. See [`super::batch`] for how their reads
//! are batched (the one N+1 strategy).

use std::{collections::HashMap, sync::Arc};

use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;

use super::batch::{Batcher, Dispatcher};
use crate::{
    error::{ApiError, ApiResult},
    service::{
        self, actor::Actor, channels::VisibleChannel, contacts::VisibleContact, grants::WithPeople,
    },
};

/// A service call reading the rows of many keys in one statement, as the caller, by key.
pub type Fetch<V> = for<'a> fn(
    &'a DatabaseConnection,
    &'a Actor,
    &'a [i64],
) -> BoxFuture<'a, ApiResult<HashMap<i64, V>>>;

/// Groups rows by the id they hang off.
fn grouped<M>(rows: Vec<M>, key: fn(&M) -> i64) -> HashMap<i64, Vec<M>> {
    let mut map: HashMap<i64, Vec<M>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// Keys rows by their own id.
fn by_id<M>(rows: Vec<M>, key: fn(&M) -> i64) -> HashMap<i64, M> {
    rows.into_iter().map(|row| (key(&row), row)).collect()
}

/// The loaders of one request (or of one WebSocket connection), each reading as its caller.
pub struct Loaders {
    /// Users by id, as visible to the caller.
    pub users: Arc<Batcher<entity::user::Model>>,
    /// Contacts by id, as visible to the caller, with the caller's access.
    pub contacts: Arc<Batcher<VisibleContact>>,
    /// A contact's email addresses, by contact (the contact was checked by whoever holds it).
    pub emails: Arc<Batcher<Vec<entity::contact_email::Model>>>,
    /// A contact's phone numbers, by contact.
    pub phones: Arc<Batcher<Vec<entity::contact_phone::Model>>>,
    /// A contact's postal addresses, by contact.
    pub addresses: Arc<Batcher<Vec<entity::contact_address::Model>>>,
    /// A contact's labels, by contact.
    pub contact_labels: Arc<Batcher<Vec<entity::label::Model>>>,
    /// A contact's collaborator grants with the users they name, by contact (staff callers).
    pub collaborators: Arc<Batcher<Vec<WithPeople<entity::contact_collaborator::Model>>>>,
    /// Channels by id, as visible to the caller, with the caller's access.
    pub channels: Arc<Batcher<VisibleChannel>>,
    /// A channel's grants, by channel.
    pub channel_collaborators: Arc<Batcher<Vec<entity::channel_collaborator::Model>>>,
    /// Notes by id, as visible to the caller.
    pub notes: Arc<Batcher<entity::note::Model>>,
    /// A note's labels, by note.
    pub note_labels: Arc<Batcher<Vec<entity::label::Model>>>,
    /// A note's attachments, by note.
    pub attachments: Arc<Batcher<Vec<entity::attachment::Model>>>,
    /// The tasks created with a note, by note, as visible to the caller.
    pub note_tasks: Arc<Batcher<Vec<entity::task::Model>>>,
    /// Tasks by id, as visible to the caller.
    pub tasks: Arc<Batcher<entity::task::Model>>,
    /// A task's tags, by task.
    pub task_tags: Arc<Batcher<Vec<String>>>,
    /// The task that follows a task up, by the task it continues (read its fields through
    /// `tasks`, which applies the caller's access).
    pub follow_ups: Arc<Batcher<entity::task::Model>>,
    /// Task types by id.
    pub task_types: Arc<Batcher<entity::task_type::Model>>,
    /// Outcomes by id.
    pub outcomes: Arc<Batcher<entity::outcome::Model>>,
    /// Message templates by id.
    pub templates: Arc<Batcher<entity::message_template::Model>>,
    /// Conversations by id, as visible to the caller.
    pub conversations: Arc<Batcher<entity::conversation::Model>>,
    /// Messages by id, as visible to the caller.
    pub messages: Arc<Batcher<entity::message::Model>>,
    /// Messages by id, of conversations the caller was already shown (an inbox's last
    /// messages).
    pub last_messages: Arc<Batcher<entity::message::Model>>,
    /// The caller's unread inbound messages, by conversation.
    pub unread: Arc<Batcher<i64>>,
    /// The caller's reminders by id.
    pub reminders: Arc<Batcher<entity::reminder::Model>>,
    /// A webhook delivery's attempts, by delivery (deliveries are read by owners and admins
    /// only; the organization filter applies here too).
    pub webhook_attempts: Arc<Batcher<Vec<entity::webhook_attempt::Model>>>,
}

impl Loaders {
    /// Loaders reading through `db` as `actor`, batched by `dispatcher`.
    pub fn new(dispatcher: &Arc<Dispatcher>, db: DatabaseConnection, actor: Actor) -> Self {
        let actor = Arc::new(actor);
        let d = dispatcher;
        Self {
            users: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::users::get_many(db, a, ids))
            }),
            contacts: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::contacts::get_many(db, a, ids))
            }),
            emails: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::contacts::emails_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.contact_id))
                })
            }),
            phones: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::contacts::phones_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.contact_id))
                })
            }),
            addresses: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::contacts::addresses_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.contact_id))
                })
            }),
            contact_labels: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::contacts::labels_of(db, a.org_id, ids))
            }),
            collaborators: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(async move {
                    let rows =
                        service::collaborators::of_contacts_with_people(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.grant.contact_id))
                })
            }),
            channels: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::channels::get_many(db, a, ids))
            }),
            channel_collaborators: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::channels::collaborators_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.channel_id))
                })
            }),
            notes: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::notes::get_many(db, a, ids))
            }),
            note_labels: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::notes::labels_of(db, a.org_id, ids))
            }),
            attachments: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::attachments::of_notes(db, a.org_id, ids))
            }),
            note_tasks: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::tasks::for_notes(db, a, ids))
            }),
            tasks: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::tasks::get_many(db, a, ids))
            }),
            task_tags: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::tasks::tags_of(db, a.org_id, ids))
            }),
            follow_ups: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::tasks::follow_ups_of(db, a.org_id, ids))
            }),
            task_types: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::settings::types_of(db, a.org_id, ids))
            }),
            outcomes: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::settings::outcomes_of(db, a.org_id, ids))
            }),
            templates: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::settings::templates_of(db, a.org_id, ids))
            }),
            conversations: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::conversations::get_many(db, a, ids))
            }),
            messages: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::conversations::messages_by_id(db, a, ids))
            }),
            last_messages: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::conversations::messages_of_visible(
                    db, a.org_id, ids,
                ))
            }),
            unread: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::conversations::unread_counts(db, a, ids))
            }),
            reminders: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::reminders::get_many(db, a, ids).await?;
                    Ok(by_id(rows, |r| r.id))
                })
            }),
            webhook_attempts: loader(d, &db, &actor, |db, a, ids| {
                Box::pin(service::deliveries::attempts_of(db, a.org_id, ids))
            }),
        }
    }
}

/// A batcher reading through `fetch` as `actor`.
fn loader<V: Clone + Send + Sync + 'static>(
    dispatcher: &Arc<Dispatcher>,
    db: &DatabaseConnection,
    actor: &Arc<Actor>,
    fetch: Fetch<V>,
) -> Arc<Batcher<V>> {
    let (db, actor) = (db.clone(), actor.clone());
    Batcher::new(
        dispatcher,
        Box::new(move |keys| {
            let (db, actor) = (db.clone(), actor.clone());
            Box::pin(async move {
                // Keep the service error as the source, so the error extension maps its code.
                fetch(&db, &actor, &keys)
                    .await
                    .map_err(|error: ApiError| async_graphql::Error::new_with_source(error))
            })
        }),
    )
}
