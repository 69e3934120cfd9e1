//! Notes: what people write about a contact, with labels, types and attachments.

pub mod mutation;
pub mod query;
pub mod types;
pub mod uploads;

pub use self::types::*;
