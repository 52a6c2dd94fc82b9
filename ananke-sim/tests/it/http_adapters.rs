//! The HTTP check and Vault adapters of ananke-core against real servers on loopback: scripted
//! HTTP(S) servers for the checker, and the simulator's endpoints (Vault per pod, Gitea health,
//! service endpoints, ingress) for Vault, the Git server probe and the scenario's checklists.

mod checks;
mod endpoints;
pub mod servers;
mod vault;
