//! Tasks: work planned about a contact, with schedule, responsible user and outcome.

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
