use std::process::ExitCode;

// Decoding and shipping allocate many small strings per record; mimalloc serves them faster than
// the system allocator (compare `cargo bench --bench decode` with `--bench decode_system_alloc`).
// Built with `no_thp` (Cargo.toml): see `return_memory_sooner`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    return_memory_sooner();
    apigw_stream::control::cli::main()
}

/// `local` goes through about 100 MB/s of payload, frame and window buffers. mimalloc v3 keeps
/// what is freed for a second (`purge_delay`, 1000 ms) and, by default, asks for transparent huge
/// pages, which a purge of less than 2 MiB cannot give back. Together they held about 200 MiB of
/// freed memory at the peak of a 1M-record run. The crate feature `no_thp` drops the huge-page
/// request; this shortens the delay to 50 ms (docs/performance.md has the runs).
/// `MIMALLOC_PURGE_DELAY` still wins.
fn return_memory_sooner() {
    // `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (mimalloc.h), the version
    // libmimalloc-sys builds; the crate's own constants follow v2's numbering.
    const PURGE_DELAY: std::os::raw::c_int = 15;
    extern "C" {
        // Sets an option unless the environment already did.
        fn mi_option_set_default(option: std::os::raw::c_int, value: std::os::raw::c_long);
    }
    // SAFETY: a plain C call on integers, made before any other thread exists (mimalloc's option
    // setters are not thread safe).
    unsafe { mi_option_set_default(PURGE_DELAY, 50) }
}
