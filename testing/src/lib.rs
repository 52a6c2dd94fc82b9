//! Shared helpers of ananke's quality module.
