//! The request's loaders: one [`Batcher`] for each kind of related row a field shows, each
//! reading through the service layer as the caller. See [`super::batch`] for how their reads
//! are batched (the one N+1 strategy).

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

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
///
/// Each is built on its first use: a request or a live subscription touches a few of them,
/// and an idle subscription holds its `Loaders` for as long as it runs (building all of them
/// up front cost about 6 KiB per subscription).
pub struct Loaders {
    /// Users by id, as visible to the caller.
    pub users: Lazy<entity::user::Model>,
    /// Contacts by id, as visible to the caller, with the caller's access.
    pub contacts: Lazy<VisibleContact>,
    /// A contact's email addresses, by contact (the contact was checked by whoever holds it).
    pub emails: Lazy<Vec<entity::contact_email::Model>>,
    /// A contact's phone numbers, by contact.
    pub phones: Lazy<Vec<entity::contact_phone::Model>>,
    /// A contact's postal addresses, by contact.
    pub addresses: Lazy<Vec<entity::contact_address::Model>>,
    /// A contact's labels, by contact.
    pub contact_labels: Lazy<Vec<entity::label::Model>>,
    /// A contact's collaborator grants with the users they name, by contact (staff callers).
    pub collaborators: Lazy<Vec<WithPeople<entity::contact_collaborator::Model>>>,
    /// Channels by id, as visible to the caller, with the caller's access.
    pub channels: Lazy<VisibleChannel>,
    /// A channel's grants, by channel.
    pub channel_collaborators: Lazy<Vec<entity::channel_collaborator::Model>>,
    /// Notes by id, as visible to the caller.
    pub notes: Lazy<entity::note::Model>,
    /// A note's labels, by note.
    pub note_labels: Lazy<Vec<entity::label::Model>>,
    /// A note's attachments, by note.
    pub attachments: Lazy<Vec<entity::attachment::Model>>,
    /// The tasks created with a note, by note, as visible to the caller.
    pub note_tasks: Lazy<Vec<entity::task::Model>>,
    /// Tasks by id, as visible to the caller.
    pub tasks: Lazy<entity::task::Model>,
    /// A task's tags, by task.
    pub task_tags: Lazy<Vec<String>>,
    /// The task that follows a task up, by the task it continues (read its fields through
    /// `tasks`, which applies the caller's access).
    pub follow_ups: Lazy<entity::task::Model>,
    /// Task types by id.
    pub task_types: Lazy<entity::task_type::Model>,
    /// Outcomes by id.
    pub outcomes: Lazy<entity::outcome::Model>,
    /// Message templates by id.
    pub templates: Lazy<entity::message_template::Model>,
    /// Conversations by id, as visible to the caller.
    pub conversations: Lazy<entity::conversation::Model>,
    /// Messages by id, as visible to the caller.
    pub messages: Lazy<entity::message::Model>,
    /// Messages by id, of conversations the caller was already shown (an inbox's last
    /// messages).
    pub last_messages: Lazy<entity::message::Model>,
    /// The caller's unread inbound messages, by conversation.
    pub unread: Lazy<i64>,
    /// The caller's reminders by id.
    pub reminders: Lazy<entity::reminder::Model>,
    /// A webhook delivery's attempts, by delivery (deliveries are read by owners and admins
    /// only; the organization filter applies here too).
    pub webhook_attempts: Lazy<Vec<entity::webhook_attempt::Model>>,
}

impl Loaders {
    /// Loaders reading through `db` as `actor`, batched by `dispatcher`.
    pub fn new(dispatcher: &Arc<Dispatcher>, db: DatabaseConnection, actor: Actor) -> Self {
        let shared = Arc::new(Shared {
            dispatcher: dispatcher.clone(),
            db,
            actor,
        });
        let s = &shared;
        Self {
            users: Lazy::new(s, |db, a, ids| {
                Box::pin(service::users::get_many(db, a, ids))
            }),
            contacts: Lazy::new(s, |db, a, ids| {
                Box::pin(service::contacts::get_many(db, a, ids))
            }),
            emails: Lazy::new(s, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::contacts::emails_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.contact_id))
                })
            }),
            phones: Lazy::new(s, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::contacts::phones_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.contact_id))
                })
            }),
            addresses: Lazy::new(s, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::contacts::addresses_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.contact_id))
                })
            }),
            contact_labels: Lazy::new(s, |db, a, ids| {
                Box::pin(service::contacts::labels_of(db, a.org_id, ids))
            }),
            collaborators: Lazy::new(s, |db, a, ids| {
                Box::pin(async move {
                    let rows =
                        service::collaborators::of_contacts_with_people(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.grant.contact_id))
                })
            }),
            channels: Lazy::new(s, |db, a, ids| {
                Box::pin(service::channels::get_many(db, a, ids))
            }),
            channel_collaborators: Lazy::new(s, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::channels::collaborators_of(db, a.org_id, ids).await?;
                    Ok(grouped(rows, |r| r.channel_id))
                })
            }),
            notes: Lazy::new(s, |db, a, ids| {
                Box::pin(service::notes::get_many(db, a, ids))
            }),
            note_labels: Lazy::new(s, |db, a, ids| {
                Box::pin(service::notes::labels_of(db, a.org_id, ids))
            }),
            attachments: Lazy::new(s, |db, a, ids| {
                Box::pin(service::attachments::of_notes(db, a.org_id, ids))
            }),
            note_tasks: Lazy::new(s, |db, a, ids| {
                Box::pin(service::tasks::for_notes(db, a, ids))
            }),
            tasks: Lazy::new(s, |db, a, ids| {
                Box::pin(service::tasks::get_many(db, a, ids))
            }),
            task_tags: Lazy::new(s, |db, a, ids| {
                Box::pin(service::tasks::tags_of(db, a.org_id, ids))
            }),
            follow_ups: Lazy::new(s, |db, a, ids| {
                Box::pin(service::tasks::follow_ups_of(db, a.org_id, ids))
            }),
            task_types: Lazy::new(s, |db, a, ids| {
                Box::pin(service::settings::types_of(db, a.org_id, ids))
            }),
            outcomes: Lazy::new(s, |db, a, ids| {
                Box::pin(service::settings::outcomes_of(db, a.org_id, ids))
            }),
            templates: Lazy::new(s, |db, a, ids| {
                Box::pin(service::settings::templates_of(db, a.org_id, ids))
            }),
            conversations: Lazy::new(s, |db, a, ids| {
                Box::pin(service::conversations::get_many(db, a, ids))
            }),
            messages: Lazy::new(s, |db, a, ids| {
                Box::pin(service::conversations::messages_by_id(db, a, ids))
            }),
            last_messages: Lazy::new(s, |db, a, ids| {
                Box::pin(service::conversations::messages_of_visible(
                    db, a.org_id, ids,
                ))
            }),
            unread: Lazy::new(s, |db, a, ids| {
                Box::pin(service::conversations::unread_counts(db, a, ids))
            }),
            reminders: Lazy::new(s, |db, a, ids| {
                Box::pin(async move {
                    let rows = service::reminders::get_many(db, a, ids).await?;
                    Ok(by_id(rows, |r| r.id))
                })
            }),
            webhook_attempts: Lazy::new(s, |db, a, ids| {
                Box::pin(service::deliveries::attempts_of(db, a.org_id, ids))
            }),
        }
    }
}

/// What every loader of one caller reads with.
struct Shared {
    dispatcher: Arc<Dispatcher>,
    db: DatabaseConnection,
    actor: Actor,
}

/// A loader built on first use (see [`Loaders`]); it dereferences to the [`Batcher`].
pub struct Lazy<V> {
    shared: Arc<Shared>,
    fetch: Fetch<V>,
    batcher: OnceLock<Arc<Batcher<V>>>,
}

impl<V: Clone + Send + Sync + 'static> Lazy<V> {
    fn new(shared: &Arc<Shared>, fetch: Fetch<V>) -> Self {
        Self {
            shared: shared.clone(),
            fetch,
            batcher: OnceLock::new(),
        }
    }
}

impl<V: Clone + Send + Sync + 'static> std::ops::Deref for Lazy<V> {
    type Target = Arc<Batcher<V>>;

    fn deref(&self) -> &Self::Target {
        self.batcher.get_or_init(|| {
            let (shared, fetch) = (self.shared.clone(), self.fetch);
            Batcher::new(
                &self.shared.dispatcher,
                Box::new(move |keys| {
                    let shared = shared.clone();
                    Box::pin(async move {
                        // Keep the service error as the source, so the error extension maps
                        // its code.
                        fetch(&shared.db, &shared.actor, &keys)
                            .await
                            .map_err(|error: ApiError| async_graphql::Error::new_with_source(error))
                    })
                }),
            )
        })
    }
}
