//! sea-orm entities for Threadline's tables, one module a table.
//!
//! These are storage shapes only; the GraphQL types in the gateway crate are separate so that
//! the database can change without changing the public contract.

pub mod attachment;
pub mod channel;
pub mod channel_collaborator;
pub mod contact;
pub mod contact_address;
pub mod contact_collaborator;
pub mod contact_email;
pub mod contact_label;
pub mod contact_phone;
pub mod conversation;
pub mod conversation_read;
pub mod instance_setting;
pub mod label;
pub mod message;
pub mod message_template;
pub mod note;
pub mod note_label;
pub mod notification;
pub mod organization;
pub mod outcome;
pub mod password_token;
pub mod refresh_token;
pub mod reminder;
pub mod session;
pub mod task;
pub mod task_tag;
pub mod task_type;
pub mod timeline_event;
pub mod user;
pub mod user_password;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
