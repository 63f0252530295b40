//! ship (being built).
