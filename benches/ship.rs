//! `cargo bench --bench ship`: the shipper's hot path (unpack → encode → windows) and a loopback
//! delivery to the in-process receiver, with mimalloc as the Lambdas use it.
//! `ship_system_alloc` runs the same with the system allocator.

#[path = "suite/ship.rs"]
mod suite;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut criterion::Criterion) {
    suite::bench_ship(c, "mimalloc");
    suite::bench_loopback(c, "mimalloc");
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
