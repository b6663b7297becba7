//! mock-upstream: a tiny, fast, dependency-free mock of the OpenAI HTTP API.
//!
//! Endpoints (any path prefix is accepted, so `base_url` may or may not end in `/v1`):
//!   POST .../chat/completions   chat.completion JSON, or an SSE stream when the body has "stream": true
//!   GET  .../models             model list
//!   GET  /health                "ok"
//!   GET  /mock/stats            counters as JSON: connections accepted, requests, chat requests,
//!                               streamed chat requests, chat request body bytes
//!
//! Defaults come from flags or env (flags win):
//!   --host / MOCK_HOST                    default 127.0.0.1
//!   --port / MOCK_PORT                    default 18080
//!   --chunks / MOCK_CHUNKS                content chunks per stream (and words in a non-streamed answer), default 20
//!   --chunk-delay-ms / MOCK_CHUNK_DELAY_MS  delay between streamed content chunks, default 10
//!   --latency-ms / MOCK_LATENCY_MS        fixed latency before the response headers, default 0
//! Per request overrides (query string or header), e.g. `?chunks=5&chunk_delay_ms=0&latency_ms=50`
//! or `x-mock-chunks`, `x-mock-chunk-delay-ms`, `x-mock-latency-ms`, or top-level request body
//! fields `"x_mock_chunks"`, `"x_mock_chunk_delay_ms"`, `"x_mock_latency_ms"` (numbers), which
//! pass through a gateway that forwards unknown fields.
//!
//! One OS thread per connection, HTTP/1.1 keep-alive, TCP_NODELAY, each SSE event written and
//! sent immediately as its own HTTP chunk.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

const WORDS: [&str; 16] = [
    "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "a", "mock",
    "upstream", "streams", "tokens", "back.",
];

#[derive(Clone, Copy)]
struct Params {
    chunks: u64,
    chunk_delay_ms: u64,
    latency_ms: u64,
}

#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    requests: AtomicU64,
    chat: AtomicU64,
    streams: AtomicU64,
    chat_body_bytes: AtomicU64,
    ids: AtomicU64,
}

struct Request {
    method: String,
    path: String,
    query: String,
    keep_alive: bool,
    overrides: Vec<(String, String)>,
    body: Vec<u8>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let mut host = env_or("MOCK_HOST", "127.0.0.1");
    let mut port = env_or("MOCK_PORT", "18080");
    let mut chunks = env_or("MOCK_CHUNKS", "20");
    let mut delay = env_or("MOCK_CHUNK_DELAY_MS", "10");
    let mut latency = env_or("MOCK_LATENCY_MS", "0");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let (key, val) = match args[i].split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (args[i].clone(), None),
        };
        if key == "-h" || key == "--help" {
            println!("usage: mock-upstream [--host H] [--port P] [--chunks N] [--chunk-delay-ms MS] [--latency-ms MS]");
            return;
        }
        let val = match val {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i).cloned().unwrap_or_default()
            }
        };
        match key.as_str() {
            "--host" => host = val,
            "--port" => port = val,
            "--chunks" => chunks = val,
            "--chunk-delay-ms" => delay = val,
            "--latency-ms" => latency = val,
            other => {
                eprintln!("mock-upstream: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let params = Params {
        chunks: chunks.parse().expect("--chunks must be an integer"),
        chunk_delay_ms: delay.parse().expect("--chunk-delay-ms must be an integer"),
        latency_ms: latency.parse().expect("--latency-ms must be an integer"),
    };
    let addr = format!("{host}:{port}");
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("mock-upstream: cannot bind {addr}: {e}");
        std::process::exit(1);
    });
    eprintln!(
        "mock-upstream listening on http://{addr} chunks={} chunk_delay_ms={} latency_ms={}",
        params.chunks, params.chunk_delay_ms, params.latency_ms
    );
    let stats = Arc::new(Stats::default());
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("mock-upstream: accept error: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let stats = Arc::clone(&stats);
        let spawned = thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let _ = handle_connection(stream, params, &stats);
            });
        if let Err(e) = spawned {
            eprintln!("mock-upstream: cannot spawn thread: {e}");
        }
    }
}

fn handle_connection(stream: TcpStream, defaults: Params, stats: &Stats) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    loop {
        let req = match read_request(&mut reader)? {
            Some(r) => r,
            None => return Ok(()),
        };
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let keep_alive = req.keep_alive;
        let out = reader.get_mut();
        route(out, &req, defaults, stats)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

fn read_line_limited(reader: &mut BufReader<TcpStream>, line: &mut String, budget: &mut usize) -> io::Result<usize> {
    line.clear();
    let n = reader.by_ref().take(*budget as u64).read_line(line)?;
    if n >= *budget {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "headers too large"));
    }
    *budget -= n;
    Ok(n)
}

/// Reads one request; Ok(None) on a clean EOF between requests.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut budget = MAX_HEADER_BYTES;
    let mut line = String::new();
    // Skip stray empty lines between requests (allowed by RFC 9112).
    loop {
        let n = read_line_limited(reader, &mut line, &mut budget)?;
        if n == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let version = parts.next().unwrap_or("HTTP/1.1").to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let mut keep_alive = version != "HTTP/1.0";
    let mut content_length: usize = 0;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut overrides = Vec::new();
    loop {
        let n = read_line_limited(reader, &mut line, &mut budget)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            match name.as_str() {
                "content-length" => {
                    content_length = value
                        .parse()
                        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?
                }
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "connection" => {
                    let v = value.to_ascii_lowercase();
                    if v.contains("close") {
                        keep_alive = false;
                    } else if v.contains("keep-alive") {
                        keep_alive = true;
                    }
                }
                "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
                _ => {
                    if let Some(k) = name.strip_prefix("x-mock-") {
                        overrides.push((k.replace('-', "_"), value.to_string()));
                    }
                }
            }
        }
    }
    if expect_continue {
        reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let n = read_line_limited(reader, &mut line, &mut budget)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in chunked body"));
            }
            let size_str = line.trim().split(';').next().unwrap_or("0");
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // trailers until empty line
                loop {
                    let n = read_line_limited(reader, &mut line, &mut budget)?;
                    if n == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY_BYTES {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if content_length > 0 {
        if content_length > MAX_BODY_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        body.resize(content_length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, path, query, keep_alive, overrides, body }))
}

fn params_for(req: &Request, defaults: Params) -> Params {
    let mut p = defaults;
    let mut apply = |k: &str, v: &str| {
        if let Ok(n) = v.parse::<u64>() {
            match k {
                "chunks" => p.chunks = n,
                "chunk_delay_ms" => p.chunk_delay_ms = n,
                "latency_ms" => p.latency_ms = n,
                _ => {}
            }
        }
    };
    for pair in req.query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            apply(k, v);
        }
    }
    for (k, v) in &req.overrides {
        apply(k, v);
    }
    // Unknown top-level body fields a gateway forwards untouched, e.g. "x_mock_chunk_delay_ms": 250:
    // they reach the mock through any gateway, unlike the client's headers or query string.
    for k in ["chunks", "chunk_delay_ms", "latency_ms"] {
        for v in find_value(&req.body, &format!("x_mock_{k}")) {
            let digits: String = v.iter().take_while(|c| c.is_ascii_digit()).map(|&c| c as char).collect();
            apply(k, &digits);
        }
    }
    p
}

fn route(out: &mut TcpStream, req: &Request, defaults: Params, stats: &Stats) -> io::Result<()> {
    let path = req.path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("POST", p) if p.ends_with("/chat/completions") => {
            stats.chat.fetch_add(1, Ordering::Relaxed);
            stats.chat_body_bytes.fetch_add(req.body.len() as u64, Ordering::Relaxed);
            chat(out, req, params_for(req, defaults), stats)
        }
        ("GET", p) if p.ends_with("/models") => {
            let now = unix_now();
            let body = format!(
                "{{\"object\":\"list\",\"data\":[{{\"id\":\"mock-model\",\"object\":\"model\",\"created\":{now},\"owned_by\":\"mock\"}},{{\"id\":\"gpt-4o-mini\",\"object\":\"model\",\"created\":{now},\"owned_by\":\"mock\"}}]}}"
            );
            respond(out, 200, "application/json", body.as_bytes(), req.keep_alive)
        }
        ("GET", "/health") | ("GET", "") => respond(out, 200, "text/plain", b"ok", req.keep_alive),
        ("GET", "/mock/stats") => {
            let body = format!(
                "{{\"connections\":{},\"requests\":{},\"chat\":{},\"streams\":{},\"chat_body_bytes\":{}}}",
                stats.connections.load(Ordering::Relaxed),
                stats.requests.load(Ordering::Relaxed),
                stats.chat.load(Ordering::Relaxed),
                stats.streams.load(Ordering::Relaxed),
                stats.chat_body_bytes.load(Ordering::Relaxed)
            );
            respond(out, 200, "application/json", body.as_bytes(), req.keep_alive)
        }
        _ => {
            let body = format!(
                "{{\"error\":{{\"message\":\"mock-upstream: no route for {} {}\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"not_found\"}}}}",
                req.method,
                json_escape(&req.path)
            );
            respond(out, 404, "application/json", body.as_bytes(), req.keep_alive)
        }
    }
}

fn respond(out: &mut TcpStream, status: u16, ctype: &str, body: &[u8], keep_alive: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let conn = if keep_alive { "keep-alive" } else { "close" };
    let mut buf = Vec::with_capacity(body.len() + 192);
    write!(
        buf,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: {conn}\r\nServer: mock-upstream\r\n\r\n",
        body.len()
    )?;
    buf.extend_from_slice(body);
    out.write_all(&buf)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// Position just after `"key"` followed by optional whitespace and ':' and whitespace.
fn find_value<'a>(body: &'a [u8], key: &str) -> Vec<&'a [u8]> {
    let pat = format!("\"{key}\"");
    let pat = pat.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + pat.len() <= body.len() {
        if &body[i..i + pat.len()] == pat {
            let mut j = i + pat.len();
            while j < body.len() && body[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < body.len() && body[j] == b':' {
                j += 1;
                while j < body.len() && body[j].is_ascii_whitespace() {
                    j += 1;
                }
                found.push(&body[j..]);
            }
            i += pat.len();
        } else {
            i += 1;
        }
    }
    found
}

fn json_flag(body: &[u8], key: &str) -> bool {
    find_value(body, key).iter().any(|v| v.starts_with(b"true"))
}

/// Raw (still JSON-escaped) contents of the first string value of `key`.
fn json_str(body: &[u8], key: &str) -> Option<String> {
    for v in find_value(body, key) {
        if v.first() == Some(&b'"') {
            let mut j = 1;
            while j < v.len() {
                match v[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(String::from_utf8_lossy(&v[1..j]).into_owned()),
                    _ => j += 1,
                }
            }
        }
    }
    None
}

fn chat(out: &mut TcpStream, req: &Request, p: Params, stats: &Stats) -> io::Result<()> {
    let model = json_str(&req.body, "model").unwrap_or_else(|| "mock-model".to_string());
    let stream = json_flag(&req.body, "stream");
    let include_usage = json_flag(&req.body, "include_usage");
    let prompt_tokens = (req.body.len() as u64 / 4).max(1);
    let completion_tokens = p.chunks;
    let id = format!("chatcmpl-mock{:016x}", stats.ids.fetch_add(1, Ordering::Relaxed));
    let created = unix_now();
    if p.latency_ms > 0 {
        thread::sleep(Duration::from_millis(p.latency_ms));
    }
    let usage = format!(
        "{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{completion_tokens},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":0,\"audio_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}",
        prompt_tokens + completion_tokens
    );
    if !stream {
        let mut content = String::new();
        for i in 0..p.chunks as usize {
            if i > 0 {
                content.push(' ');
            }
            content.push_str(WORDS[i % WORDS.len()]);
        }
        let body = format!(
            "{{\"id\":\"{id}\",\"object\":\"chat.completion\",\"created\":{created},\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{content}\",\"refusal\":null,\"annotations\":[]}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\"usage\":{usage},\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}}"
        );
        return respond(out, 200, "application/json", body.as_bytes(), req.keep_alive);
    }
    stats.streams.fetch_add(1, Ordering::Relaxed);
    let conn = if req.keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: {conn}\r\nServer: mock-upstream\r\n\r\n"
    );
    let prefix = format!(
        "{{\"id\":\"{id}\",\"object\":\"chat.completion.chunk\",\"created\":{created},\"model\":\"{model}\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":["
    );
    let usage_null = if include_usage { ",\"usage\":null" } else { "" };
    let event = |choices: &str, tail: &str| -> Vec<u8> {
        let data = format!("data: {prefix}{choices}]{tail}}}\n\n");
        let mut v = Vec::with_capacity(data.len() + 16);
        let _ = write!(v, "{:x}\r\n", data.len());
        v.extend_from_slice(data.as_bytes());
        v.extend_from_slice(b"\r\n");
        v
    };
    // Headers, the role chunk and the first content chunk go out together at t=latency.
    let mut buf = head.into_bytes();
    buf.extend(event(
        "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}",
        usage_null,
    ));
    for i in 0..p.chunks as usize {
        if i > 0 {
            out.write_all(&buf)?;
            buf.clear();
            if p.chunk_delay_ms > 0 {
                thread::sleep(Duration::from_millis(p.chunk_delay_ms));
            }
        }
        let word = if i > 0 { format!(" {}", WORDS[i % WORDS.len()]) } else { WORDS[0].to_string() };
        buf.extend(event(
            &format!("{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"logprobs\":null,\"finish_reason\":null}}"),
            usage_null,
        ));
    }
    // Final chunk, optional usage chunk and [DONE] go out with the last content chunk.
    buf.extend(event("{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}", usage_null));
    if include_usage {
        buf.extend(event("", &format!(",\"usage\":{usage}")));
    }
    let done = "data: [DONE]\n\n";
    let _ = write!(buf, "{:x}\r\n{done}\r\n0\r\n\r\n", done.len());
    out.write_all(&buf)
}
