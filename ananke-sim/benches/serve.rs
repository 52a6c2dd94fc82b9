//! Placeholder until the serve benchmark lands.
fn main() {}
