//! frame (being built).
