//! Notifications: what the caller is told about (assignments, mentions, fired reminders).

pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

pub use self::types::*;
