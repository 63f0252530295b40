//! `cargo bench --bench decode`: a realistic ~1 MB (uncompressed) subscription payload of
//! access-log lines → canonical records, and → SQS frames, with mimalloc as the CLI and the
//! Lambdas use it. `decode_system_alloc` runs the same with the system allocator.

#[path = "suite/decode.rs"]
mod suite;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut criterion::Criterion) {
    suite::bench(c, "mimalloc");
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
