//! `cargo bench --bench ship_system_alloc`: the `ship` benchmarks with the system allocator.

#[path = "suite/ship.rs"]
mod suite;

fn bench(c: &mut criterion::Criterion) {
    suite::bench_ship(c, "system");
    suite::bench_loopback(c, "system");
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
