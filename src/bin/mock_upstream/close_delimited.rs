//! The `close`/`http10` framings: a bare HTTP/1.x server that answers once per connection
//! and marks the end of the body by closing it.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn serve(listener: TcpListener, state: Shared, framing: Framing) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        actix_web::rt::spawn(async move {
            let _ = answer(socket, state, framing).await;
        });
    }
}

async fn answer(mut socket: TcpStream, state: Shared, framing: Framing) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let mut length = 0usize;
    let mut key = String::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "authorization" => key = value.strip_prefix("Bearer ").unwrap_or(value).to_string(),
            "x-api-key" if key.is_empty() => key = value.to_string(),
            _ => {}
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(65_536)];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let call = Call {
        path: &path,
        key,
        body: &body,
        anthropic: Vec::new(),
        trace: Vec::new(),
    };
    let reply = if path.ends_with("/chat/completions") {
        chat_reply(call, &state).await
    } else if path.ends_with("/messages") {
        messages_reply(call, &state).await
    } else if path.ends_with("/embeddings") {
        embeddings_reply(call, &state)
    } else {
        Reply::error(404, "not found")
    };
    let version = if framing == Framing::Http10 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let mut head = format!(
        "{version} {} X\r\ncontent-type: {}\r\nconnection: close\r\n",
        reply.status, reply.content_type
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    for (i, part) in reply.parts.into_iter().enumerate() {
        let pause = reply.chunk_delay + if i == 1 { reply.stall } else { Duration::ZERO };
        if !pause.is_zero() {
            actix_web::rt::time::sleep(pause).await;
        }
        socket.write_all(&part).await?;
        socket.flush().await?;
    }
    socket.shutdown().await
}
