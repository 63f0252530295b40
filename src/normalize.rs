//! normalize (being built).
