//! Webhooks: the endpoints an organization's events go to (owners and admins).

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
