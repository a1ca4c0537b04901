fn main() {
    let code = cargo_tiny::main_with_args(std::env::args_os().collect());
    std::process::exit(code);
}
