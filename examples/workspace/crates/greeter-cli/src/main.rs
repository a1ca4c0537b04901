//! `greet NAME [LANG]` prints a greeting.

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "world".into());
    let lang = args.next().unwrap_or_else(|| "en".into());
    println!("{}", greeter_core::greet(&name, &lang));
}
