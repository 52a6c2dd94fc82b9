//! The `ananke` binary's tests: one binary, one module per area.

mod bench_real;
mod common;
mod config_cmd;
mod coordination;
mod crash;
mod daemon;
mod daemon_paths;
mod daemon_pushed;
mod docs_contract;
mod dry_run;
mod e2e;
mod e2e_clock;
mod e2e_outcomes;
mod help;
mod install;
mod io_errors;
mod kubeconfig;
mod lock;
mod manual;
mod package;
mod report_cmd;
mod reports;
mod run_errors;
mod same_loop;
mod secrets;
mod status_causes;
