//! The GraphQL layer: one folder per domain (`query.rs`, `mutation.rs`, `types.rs`), merged
//! into the schema's roots in [`schema`]; it parses arguments, calls the service layer and maps
//! its rows to output types.

pub mod batch;
pub mod contacts;
pub mod context;
pub mod conversations;
pub mod documents;
pub mod error;
pub mod extension;
pub mod loaders;
pub mod node;
pub mod notes;
pub mod notifications;
pub mod page;
pub mod reminders;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod tasks;
pub mod timeline;
pub mod users;
pub mod webhooks;

pub use self::schema::{
    AppSchema, MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH, MAX_EXPANDED_FIELDS,
    MAX_INTROSPECTION_LISTS, MutationRoot, QueryRoot, SubscriptionRoot, build, sdl,
};
