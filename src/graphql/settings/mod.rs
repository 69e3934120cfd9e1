//! Settings: an organization's task types, outcomes, labels and message templates.

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
