//! bridge (being built).
