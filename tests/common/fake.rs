//! A scriptable HTTP/1.1 server on a loopback address, for registries and token servers that lie,
//! hang, redirect or answer too much: each request is recorded whole (head and body, every byte, for
//! grepping secrets) and answered by the test's closure. One request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Header lines, lowercased names.
    pub headers: Vec<(String, String)>,
    /// Every byte received on the connection (head and body).
    pub raw: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub enum Reply {
    /// These bytes, then close.
    Raw(Vec<u8>),
    /// Status, extra header lines, body (Content-Length added).
    With(u16, Vec<String>, Vec<u8>),
    /// Accept and never answer (until the test process ends).
    Hang,
    /// A 200 with a body of `n` bytes generated on the fly (never held), no Content-Length.
    Endless(u64),
}

pub fn ok(status: u16, headers: &[&str], body: &str) -> Reply {
    Reply::With(
        status,
        headers.iter().map(|s| s.to_string()).collect(),
        body.as_bytes().to_vec(),
    )
}

/// The server: its address and everything it received.
pub struct Fake {
    pub host: String,
    pub log: Arc<Mutex<Vec<Request>>>,
}

impl Fake {
    /// Listens on `ip` (`127.0.0.1`, `127.0.0.2`: another host) at a free port.
    pub fn start(
        ip: &str,
        answer: impl Fn(&Request, &str) -> Reply + Send + Sync + 'static,
    ) -> Fake {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let host = format!("{ip}:{}", listener.local_addr().unwrap().port());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l, me) = (log.clone(), host.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(s) = stream else { continue };
                let (l, me, answer) = (l.clone(), me.clone(), answer.clone());
                std::thread::spawn(move || serve(s, &l, &me, &*answer));
            }
        });
        Fake { host, log }
    }

    /// Every byte received, all requests.
    pub fn received(&self) -> Vec<u8> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.raw.clone())
            .collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Fake {
    /// As [`Fake::start`], over TLS with the server certificate chain and key in `cert_pem` and
    /// `key_pem` (PKCS#8): an https registry, realm or redirect target.
    pub fn start_tls(
        ip: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
        answer: impl Fn(&Request, &str) -> Reply + Send + Sync + 'static,
    ) -> Fake {
        use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chain = pem::parse_many(cert_pem)
            .unwrap()
            .into_iter()
            .map(|p| CertificateDer::from(p.contents().to_vec()))
            .collect();
        let key = PrivatePkcs8KeyDer::from(pem::parse(key_pem).unwrap().contents().to_vec());
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(chain, key.into())
                .unwrap(),
        );
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let host = format!("{ip}:{}", listener.local_addr().unwrap().port());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l, me) = (log.clone(), host.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(tcp) = stream else { continue };
                let (l, me, answer, config) =
                    (l.clone(), me.clone(), answer.clone(), config.clone());
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    serve_on(&mut tls, &l, &me, &*answer);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        Fake { host, log }
    }
}

fn serve(
    s: TcpStream,
    log: &Mutex<Vec<Request>>,
    me: &str,
    answer: &(dyn Fn(&Request, &str) -> Reply + Send + Sync),
) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut s = s;
    serve_on(&mut s, log, me, answer);
}

/// One request read from `s` and answered on it.
fn serve_on<S: Read + Write>(
    s: &mut S,
    log: &Mutex<Vec<Request>>,
    me: &str,
    answer: &(dyn Fn(&Request, &str) -> Reply + Send + Sync),
) {
    let mut reader = BufReader::new(s);
    // Not HTTP (cargo-tiny's TLS probe): answered as Go's plain-HTTP server does, not logged.
    let first = reader
        .fill_buf()
        .map(|b| b.first().copied())
        .unwrap_or(None);
    if !first.is_some_and(|b| b.is_ascii_uppercase()) {
        let _ = reader
            .get_mut()
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        return;
    }
    let mut raw = Vec::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    raw.extend_from_slice(line.as_bytes());
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        raw.extend_from_slice(h.as_bytes());
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: u64 = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    // Bodies are read (and kept only up to 1 MiB: the big uploads are counted, not held).
    let mut left = len;
    let mut buf = vec![0u8; 64 << 10];
    while left > 0 {
        let n = match reader.read(&mut buf[..(left.min(64 << 10)) as usize]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if raw.len() < 1 << 20 {
            raw.extend_from_slice(&buf[..n]);
        }
        left -= n as u64;
    }
    let req = Request {
        method,
        target,
        headers,
        raw,
    };
    log.lock().unwrap().push(req.clone());
    let s = reader.get_mut();
    match answer(&req, me) {
        Reply::Raw(b) => {
            let _ = s.write_all(&b);
        }
        Reply::With(code, extra, body) => {
            let mut head = format!("HTTP/1.1 {code} X\r\nContent-Length: {}\r\n", body.len());
            for h in extra {
                head.push_str(&h);
                head.push_str("\r\n");
            }
            head.push_str("Connection: close\r\n\r\n");
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
        Reply::Hang => std::thread::sleep(Duration::from_secs(3600)),
        Reply::Endless(n) => {
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nConnection: close\r\n\r\n"
            );
            let chunk = vec![b' '; 1 << 20];
            let mut sent = 0u64;
            while sent < n {
                let k = (n - sent).min(chunk.len() as u64) as usize;
                if s.write_all(&chunk[..k]).is_err() {
                    break;
                }
                sent += k as u64;
            }
        }
    }
}
