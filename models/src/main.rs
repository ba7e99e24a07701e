//! The `flashsim` command: the generic command line, built with the flash-sale catalogue.

use std::process::ExitCode;

fn main() -> ExitCode {
    sim::cli::main::<models::Flashsim>()
}
