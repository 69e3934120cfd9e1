//! Reminders: a user's reminders about notes and tasks.

pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

pub use self::types::*;
