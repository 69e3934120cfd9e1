//! sea-orm entities for Threadline's tables, one module a table.
//!
//! These are storage shapes only; the GraphQL types in the gateway crate are separate so that
//! the database can change without changing the public contract.

pub mod contact;
pub mod contact_address;
pub mod contact_collaborator;
pub mod contact_email;
pub mod contact_phone;
pub mod instance_setting;
pub mod organization;
pub mod timeline_event;
pub mod user;
