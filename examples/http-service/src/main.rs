//! A minimal HTTP service: `GET /` answers with a greeting, `GET /upstream` fetches `UPSTREAM_URL`
//! with reqwest and reports its status. Listens on `PORT` (default 8080).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(8080)))?;
    eprintln!("listening on :{port}");
    let client = reqwest::blocking::Client::new();
    for stream in listener.incoming() {
        let _ = handle(stream?, &client);
    }
    Ok(())
}

fn handle(mut stream: TcpStream, client: &reqwest::blocking::Client) -> std::io::Result<()> {
    let mut request_line = String::new();
    BufReader::new(&stream).read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/" => ("200 OK", "hello from a FROM-scratch image\n".to_string()),
        "/upstream" => match std::env::var("UPSTREAM_URL") {
            Ok(url) => match client.get(&url).send() {
                Ok(resp) => ("200 OK", format!("{url}: {}\n", resp.status())),
                Err(e) => ("502 Bad Gateway", format!("{url}: {e}\n")),
            },
            Err(_) => ("503 Service Unavailable", "UPSTREAM_URL is not set\n".to_string()),
        },
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
