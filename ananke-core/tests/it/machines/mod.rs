//! The startup and shutdown machines: every transition driven by hand-written observation
//! sequences, crash safety through the journal, whole runs against a toy cluster, and property
//! tests over random observation sequences.

mod crash;
mod lab;
mod props;
mod shutdown;
mod startup;
mod world;
