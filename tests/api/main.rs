//! Black-box tests of the gateway over real HTTP, on SQLite by default and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod attachments;
mod auth;
mod background;
mod batching;
mod contacts;
mod contract;
mod conversations;
mod hardening_access;
mod hardening_http;
mod hardening_input;
mod helpers;
mod instances;
mod live;
mod notes;
mod oidc;
mod playground;
mod query_count;
mod receiver;
mod reminders;
mod schema;
mod sign_in;
mod style;
mod subscriptions;
mod tasks;
mod timeline;
mod transport;
mod users;
mod validation;
mod webhook_delivery;
mod webhook_processes;
mod webhooks;
