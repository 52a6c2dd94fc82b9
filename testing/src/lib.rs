//! Shared helpers of ananke's quality module.

pub mod nut;
pub mod sshd;
