fn main() -> std::process::ExitCode {
    ananke_cli::run()
}
