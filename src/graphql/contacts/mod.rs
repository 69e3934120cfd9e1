//! Contacts: the people and companies an organization works with, and who may see them.

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
