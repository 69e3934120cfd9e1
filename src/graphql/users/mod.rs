//! Users: staff and customer users of an organization.

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
