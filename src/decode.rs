//! decode (being built).
