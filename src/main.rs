use std::process::ExitCode;

// Decoding and shipping allocate many small strings per record; mimalloc serves them faster than
// the system allocator (compare `cargo bench --bench decode` with `--bench decode_system_alloc`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    apigw_stream::control::cli::main()
}
