//! kstatus-like health rules (reference §3): TODO(gates helper).
