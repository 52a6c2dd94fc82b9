//! ananke-sim: the simulated lab.
