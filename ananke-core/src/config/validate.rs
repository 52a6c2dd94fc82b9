//! Semantic validation: TODO(config helper).
