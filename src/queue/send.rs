//! Sending frames in batches with retry (being built).
