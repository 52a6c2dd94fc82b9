fn main() -> std::process::ExitCode {
    ananke_sim::cli::main()
}
