//! The GraphQL schema: types, queries and mutations over the service layer.

pub mod connection;
pub mod context;
pub mod conversations;
pub mod extension;
pub mod loaders;
pub mod mutation;
pub mod notes;
pub mod prefetch;
pub mod query;
pub mod reminders;
pub mod settings;
pub mod tasks;
pub mod timeline;
pub mod types;

use async_graphql::{Context, ID, Result, Schema, Subscription};

pub use self::{mutation::MutationRoot, query::QueryRoot};

/// The gateway's schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Query depth limit. Introspection is deeper than any of our own queries (GraphiQL's needs 13),
/// so the limit leaves room for it.
pub const MAX_DEPTH: usize = 16;
/// Query cost limit. Every connection costs its page size times what is asked under each item
/// (see [`connection::page_cost`]), so nested pages multiply: a full contact page of 100
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

/// Builds the schema. Per-request data (the caller, loaders) is attached to each request.
pub fn build_schema() -> AppSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .extension(extension::ErrorCodes)
    .limit_depth(MAX_DEPTH)
    .finish()
}

/// The schema's SDL, as kept in `schema/schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}

/// Live updates, over `GET /graphql` with the `graphql-transport-ws` protocol.
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The live timeline of one contact, filtered by the caller's access as `timeline` is:
    /// every event written after the subscription started, from whichever gateway instance.
    async fn timeline_events(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
    ) -> Result<impl futures_util::Stream<Item = Result<timeline::TimelineEvent>> + use<>> {
        use context::ContextExt;
        ctx.actor()?;
        let contact_id = crate::ids::decode(crate::ids::Kind::Contact, &contact_id)?;
        timeline::live(ctx, contact_id).await
    }

    /// The caller's reminders as they come due (fired by any gateway instance).
    async fn reminders(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<reminders::Reminder>> + use<>> {
        reminders::live(ctx).await
    }
}
