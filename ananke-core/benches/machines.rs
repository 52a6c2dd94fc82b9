//! Placeholder: the gates and machine benchmarks are added with them.
fn main() {}
