//! logs (being built).
