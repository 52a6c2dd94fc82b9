//! machines tests.
