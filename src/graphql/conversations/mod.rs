//! Conversations: messages with a contact over a channel (phone number or email identity).

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
