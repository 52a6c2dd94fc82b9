//! ananke-sim integration tests.
