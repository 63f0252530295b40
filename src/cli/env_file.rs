//! Reading the vendor integration's `.env` files (not yet built).
