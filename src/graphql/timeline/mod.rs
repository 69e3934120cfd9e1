//! The timeline: everything that happened to a contact.

pub mod query;
pub mod subscription;
pub mod types;

pub use self::types::*;
