use std::process::ExitCode;

fn main() -> ExitCode {
    apigw_stream::cli::main()
}
