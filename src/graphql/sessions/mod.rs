//! Sign-in: sessions, refresh tokens and passwords (the contract's "Sign-in (for frontends)").

pub mod mutation;
pub mod query;
pub mod types;

pub use self::types::*;
