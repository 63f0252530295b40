//! formats (being built).
