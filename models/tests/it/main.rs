//! Integration tests of flashsim: the engine against queueing theory, hand-computed runs,
//! determinism, error reporting, and the command line.

mod buyers;
mod cli;
mod database;
mod determinism;
mod errors;
mod folders;
mod fuzz;
mod hand;
mod hostile;
mod mechanisms;
mod memory;
mod orders;
mod plan;
mod readme;
mod readme_examples;
mod results;
mod server;
mod snapshots;
mod stream;
mod support;
mod sweep;
mod theory;
mod thresholds;
mod traffic;
mod warmup;
