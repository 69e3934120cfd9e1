//! Threadline's benchmark suite (issue 15): a seeded, reproducible dataset at named scales
//! ([`scale`], [`seed`]), and a load driver ([`driver`]) that runs workloads against a real
//! gateway process and the same data read with plain SQL at the same concurrency.
//!
//! The `threadline-bench` binary is the command line; BENCHMARKS.md at the repository root
//! says how to run it and holds the numbers.

pub mod database;
pub mod driver;
pub mod gateway;
pub mod load;
pub mod plan;
pub mod procfs;
pub mod rng;
pub mod scale;
pub mod seed;
pub mod sql;
pub mod words;
pub mod workload;
