//! Operations against a deployed account: API discovery, enable/disable, DLQ replay (being built).
