//! Threadline: a GraphQL gateway for customer relationship work.
//!
//! `startup` builds the application (tests start it on port 0), `http` holds the routes,
//! `graphql` the schema, `service` the domain logic and access rules, `jobs` the periodic
//! background work.

pub mod auth;
pub mod bus;
pub mod config;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod telemetry;
