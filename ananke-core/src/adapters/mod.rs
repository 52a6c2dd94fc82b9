//! Real adapters: the imperative shell's ways of observing the world.
//!
//! Each adapter sits behind its own cargo feature, so a build carries only the I/O it uses.
//! Adapters bound every call with a timeout, do their own retries, and say whether each error is
//! transient or permanent (DESIGN.md 2.2).

#[cfg(feature = "host")]
pub mod host;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kube")]
pub mod kube;
#[cfg(feature = "nut")]
pub mod nut;
#[cfg(feature = "ssh")]
pub mod ssh;
#[cfg(feature = "vault")]
pub mod vault;
