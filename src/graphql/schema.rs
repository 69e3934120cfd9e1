//! The schema's roots, merged from the domain roots, and how the schema is built.
//!
//! The roots' field order is the published SDL's (`schema/schema.graphql`), which frontends
//! and the schema test compare byte for byte: a domain whose fields sit in two places of that
//! order (users, contacts) contributes two roots.

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use super::{
    contacts::{
        mutation::ContactsMutation,
        query::{ContactQuery, ContactsQuery},
    },
    context::AppData,
    conversations::{mutation::ConversationsMutation, query::ConversationsQuery},
    extension,
    node::NodeQuery,
    notes::{mutation::NotesMutation, query::NotesQuery},
    notifications::{
        mutation::NotificationsMutation, query::NotificationsQuery,
        subscription::NotificationsSubscription,
    },
    reminders::{
        mutation::RemindersMutation, query::RemindersQuery, subscription::RemindersSubscription,
    },
    sessions::{mutation::SessionsMutation, query::SessionsQuery},
    settings::{mutation::SettingsMutation, query::SettingsQuery},
    tasks::{mutation::TasksMutation, query::TasksQuery},
    timeline::{query::TimelineQuery, subscription::TimelineSubscription},
    users::{
        mutation::UsersMutation,
        query::{MeQuery, UsersQuery},
    },
    webhooks::{mutation::WebhooksMutation, query::WebhooksQuery},
};

// The roots' doc comments are their SDL descriptions, kept word for word.
/// Read operations: the core queries merged with the settings and webhook queries.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    MeQuery,
    NodeQuery,
    UsersQuery,
    ContactsQuery,
    TimelineQuery,
    NotesQuery,
    TasksQuery,
    RemindersQuery,
    ConversationsQuery,
    ContactQuery,
    SettingsQuery,
    WebhooksQuery,
    NotificationsQuery,
    SessionsQuery,
);

/// Write operations: the core mutations merged with the settings and webhook mutations.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    UsersMutation,
    ContactsMutation,
    NotesMutation,
    TasksMutation,
    ConversationsMutation,
    RemindersMutation,
    SettingsMutation,
    WebhooksMutation,
    NotificationsMutation,
    SessionsMutation,
);

// Live updates, over `GET /graphql` with the `graphql-transport-ws` protocol. No doc comment:
// it would become a description the published SDL does not have.
#[allow(missing_docs)]
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    TimelineSubscription,
    RemindersSubscription,
    NotificationsSubscription,
);

/// The gateway's schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Query depth limit. Introspection is deeper than any of our own queries (GraphiQL's needs 13),
/// so the limit leaves room for it.
pub const MAX_DEPTH: usize = 16;
/// Query cost limit. Every connection costs its page size times what is asked under each item
/// (see [`super::page::page_cost`]), so nested pages multiply: a full contact page of 100
/// contacts with their emails, phones, labels and a page of notes stays below it, while
/// pages of pages of pages do not. Checked before execution by [`extension::ErrorCodes`].
pub const MAX_COMPLEXITY: usize = 50_000;
/// The most aliases one request may use: aliases let one document ask for the same costly
/// field many times over.
pub const MAX_ALIASES: usize = 30;
/// The most fields a document may hold once its fragments are expanded where they are spread:
/// a few kilobytes of fragments spreading each other twice would otherwise expand to millions
/// of fields, and every later step (validation, cost) walks the expanded document.
pub const MAX_EXPANDED_FIELDS: usize = 5_000;
/// The deepest nesting of introspection lists a document may ask for: the standard
/// introspection query (GraphiQL's) nests three, `__schema { types { fields { args } } }`.
pub const MAX_INTROSPECTION_LISTS: usize = 3;

/// The schema with its extension and limits, before any data is attached.
fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .extension(extension::ErrorCodes::default())
    .limit_depth(MAX_DEPTH)
}

/// Builds the schema with the app-wide dependencies every resolver shares; each request then
/// carries only its caller ([`super::context::RequestCaller`]).
pub fn build(app: AppData) -> AppSchema {
    builder().data(app).finish()
}

/// The schema's SDL, as kept in `schema/schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
