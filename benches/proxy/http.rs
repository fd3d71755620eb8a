//! A tiny HTTP/1.1 keep-alive client: enough to drive the gateway without the gateway's code.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

/// What one response looked like.
pub struct Answer {
    pub status: u16,
    pub first_chunk: Option<Instant>,
    pub body: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    pub async fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 16 * 1024];
        match self.stream.read(&mut tmp).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// Sends `req` and reads one response (Content-Length or chunked).
    pub async fn call(&mut self, req: &[u8], keep_body: bool) -> Option<Answer> {
        self.stream.write_all(req).await.ok()?;
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head.get(9..12)?.parse().ok()?;
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        self.buf.drain(..head_end);
        let mut body = Vec::new();
        let mut first_chunk = None;
        if let Some(len) = length {
            while self.buf.len() < len {
                if !self.fill().await {
                    return None;
                }
            }
            first_chunk = Some(Instant::now());
            if keep_body {
                body.extend_from_slice(&self.buf[..len]);
            }
            self.buf.drain(..len);
        } else {
            // chunked
            loop {
                let line_end = loop {
                    if let Some(p) = find(&self.buf, b"\r\n") {
                        break p;
                    }
                    if !self.fill().await {
                        return None;
                    }
                };
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&self.buf[..line_end]).trim(),
                    16,
                )
                .ok()?;
                while self.buf.len() < line_end + 2 + size + 2 {
                    if !self.fill().await {
                        return None;
                    }
                }
                if size > 0 && first_chunk.is_none() {
                    first_chunk = Some(Instant::now());
                }
                if keep_body {
                    body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                }
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        }
        Some(Answer {
            status,
            first_chunk,
            body,
        })
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn request(method: &str, path: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn chat_request(
    token: &str,
    model: &str,
    max_tokens: u32,
    stream: bool,
    extra: &str,
) -> Vec<u8> {
    let body = format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"Hello, how are you today?"}}],"max_tokens":{max_tokens},"stream":{stream}{extra}}}"#
    );
    request("POST", "/v1/chat/completions", token, &body)
}

pub async fn call_once(addr: &str, req: &[u8]) -> Answer {
    let mut c = Conn::open(addr).await;
    c.call(req, true).await.expect("call failed")
}
