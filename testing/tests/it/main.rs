//! The quality module's tests: one binary, one module per check.

mod coverage;
mod harness;
mod hygiene;
mod nut;
mod nut_driver;
mod purity;
mod ssh;
mod ssh_fleet_errors;
mod ssh_sudo;
