//! `cargo bench --bench decode_system_alloc`: the `decode` benchmarks with the system allocator.

#[path = "suite/decode.rs"]
mod suite;

fn bench(c: &mut criterion::Criterion) {
    suite::bench(c, "system");
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
