//! Responses calls over the WebSocket Codex opens, beside the same calls over SSE: a tiny
//! RFC 6455 client (masked text frames out, unmasked frames in), enough to drive the
//! gateway without the gateway's code.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::{find, request, Conn};

/// The call both transports make: a short streamed answer, nothing stored.
const CALL: &str = r#""model":"gpt-4o-mini","input":"Hello, how are you today?","max_output_tokens":16,"store":false"#;

/// Opens `/v1/responses` as a WebSocket with `token`.
async fn open(addr: &str, token: &str) -> Conn {
    let mut c = Conn::open(addr).await;
    let upgrade = format!(
        "GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    c.stream.write_all(upgrade.as_bytes()).await.unwrap();
    let end = loop {
        if let Some(p) = find(&c.buf, b"\r\n\r\n") {
            break p + 4;
        }
        assert!(c.fill().await, "the upgrade was not answered");
    };
    assert!(c.buf.starts_with(b"HTTP/1.1 101"), "no upgrade");
    c.buf.drain(..end);
    c
}

/// One masked text frame.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x5a, 0x17, 0xc3, 0x88];
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65_536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The next frame's opcode and payload (`None`: the connection ended).
async fn next_frame(c: &mut Conn) -> Option<(u8, Vec<u8>)> {
    loop {
        if c.buf.len() >= 2 {
            let (len, at) = match c.buf[1] & 0x7f {
                126 if c.buf.len() >= 4 => (u16::from_be_bytes([c.buf[2], c.buf[3]]) as usize, 4),
                127 if c.buf.len() >= 10 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&c.buf[2..10]);
                    (u64::from_be_bytes(n) as usize, 10)
                }
                126 | 127 => (usize::MAX, 0),
                n => (n as usize, 2),
            };
            if len != usize::MAX && c.buf.len() >= at + len {
                let opcode = c.buf[0] & 0x0f;
                let payload = c.buf[at..at + len].to_vec();
                c.buf.drain(..at + len);
                return Some((opcode, payload));
            }
        }
        let mut tmp = [0u8; 16 * 1024];
        match c.stream.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => c.buf.extend_from_slice(&tmp[..n]),
        }
    }
}

/// One call on an open socket: `response.create`, then events until the response is done.
async fn socket_call(c: &mut Conn, create: &[u8]) -> bool {
    if c.stream.write_all(create).await.is_err() {
        return false;
    }
    while let Some((opcode, payload)) = next_frame(c).await {
        if opcode != 1 {
            continue;
        }
        let kind = serde_json::from_slice::<serde_json::Value>(&payload)
            .ok()
            .and_then(|event| event["type"].as_str().map(str::to_string));
        match kind.as_deref() {
            Some("response.completed") => return true,
            Some("error" | "response.failed" | "response.incomplete") | None => {
                eprintln!("{}", String::from_utf8_lossy(&payload));
                return false;
            }
            _ => {}
        }
    }
    false
}

/// Closed loop over `conns` connections for `secs`: Responses calls per second over the
/// WebSocket (`socket`) or as SSE streams over HTTP/1.1 keep-alive.
pub async fn responses_calls(
    addr: &str,
    token: &str,
    conns: usize,
    secs: f64,
    socket: bool,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let done = Rc::new(Cell::new(0u64));
    let create = Rc::new(text_frame(
        format!(r#"{{"type":"response.create",{CALL}}}"#).as_bytes(),
    ));
    let sse = Rc::new(request(
        "POST",
        "/v1/responses",
        token,
        &format!(r#"{{{CALL},"stream":true}}"#),
    ));
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (done, addr, token) = (done.clone(), addr.to_string(), token.to_string());
            let (create, sse) = (create.clone(), sse.clone());
            tokio::task::spawn_local(async move {
                let mut c = if socket {
                    open(&addr, &token).await
                } else {
                    Conn::open(&addr).await
                };
                while Instant::now() < deadline {
                    let ok = if socket {
                        socket_call(&mut c, &create).await
                    } else {
                        c.call(&sse, false).await.is_some_and(|a| a.status == 200)
                    };
                    assert!(ok, "a Responses call failed (socket: {socket})");
                    done.set(done.get() + 1);
                }
            })
        })
        .collect();
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.get() as f64 / start.elapsed().as_secs_f64()
}
