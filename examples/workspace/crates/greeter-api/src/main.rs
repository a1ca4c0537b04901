//! `GET /<lang>/<name>` → a greeting. Listens on `GREETER_PORT` (default 8080).
//! `greeter-api --once` answers a single request, for smoke tests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("GREETER_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let once = std::env::args().any(|a| a == "--once");
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    eprintln!("greeter-api listening on :{port}");
    for stream in listener.incoming() {
        let mut stream = stream?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let (lang, name) = (parts.next().unwrap_or("en"), parts.next().unwrap_or("world"));
        let body = greeter_core::greet(name, lang) + "\n";
        write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())?;
        if once {
            break;
        }
    }
    Ok(())
}
