//! Load shapes: closed-loop throughput, open-loop latency, streams, many open streams.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::http::{chat_request, find, Conn};
use crate::procs::rss_mb;

/// Closed loop: `conns` connections calling back to back for `secs`. Returns calls/s.
pub async fn throughput(addr: &str, req: Rc<Vec<u8>>, conns: usize, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let done = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u64));
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (req, done, errors, addr) =
                (req.clone(), done.clone(), errors.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                while Instant::now() < deadline {
                    match c.call(&req, false).await {
                        Some(a) if a.status == 200 => done.set(done.get() + 1),
                        _ => {
                            errors.set(errors.get() + 1);
                            c = Conn::open(&addr).await;
                        }
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        errors.get(),
        0,
        "errors during throughput run against {addr}"
    );
    done.get() as f64 / start.elapsed().as_secs_f64()
}

/// Open loop at `rate` calls/s for `secs`, spread over 128 connections (each sends about
/// every 128 ms, far longer than a call takes, so a slow call does not delay the next one's
/// start). Latency is from the moment a call is written. Returns (p50, p99) in ms.
pub async fn latency_at_rate(addr: &str, req: Rc<Vec<u8>>, rate: u64, secs: f64) -> (f64, f64) {
    let total = (rate as f64 * secs) as u64;
    let next = Rc::new(Cell::new(0u64));
    let samples = Rc::new(RefCell::new(Vec::with_capacity(total as usize)));
    let start = Instant::now() + Duration::from_millis(50);
    let workers = 128;
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (req, next, samples, addr) =
                (req.clone(), next.clone(), samples.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                loop {
                    let i = next.get();
                    if i >= total {
                        break;
                    }
                    next.set(i + 1);
                    let at = start + Duration::from_nanos(i * 1_000_000_000 / rate);
                    tokio::time::sleep_until(at.into()).await;
                    let sent = Instant::now();
                    let a = c.call(&req, false).await.expect("call");
                    assert_eq!(a.status, 200);
                    samples.borrow_mut().push(sent.elapsed());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut s = samples.borrow().clone();
    s.sort();
    let pct = |p: f64| s[((s.len() as f64 * p) as usize).min(s.len() - 1)].as_secs_f64() * 1000.0;
    (pct(0.50), pct(0.99))
}

/// Sequential streams: (median time to first chunk, median total time) in ms.
pub async fn stream_times(addr: &str, req: &[u8], runs: usize) -> (f64, f64, usize) {
    let mut first = Vec::new();
    let mut total = Vec::new();
    let mut chunks = 0;
    let mut c = Conn::open(addr).await;
    for _ in 0..runs {
        let t0 = Instant::now();
        let a = c.call(req, true).await.expect("stream");
        assert_eq!(a.status, 200);
        first.push(a.first_chunk.unwrap().duration_since(t0).as_secs_f64() * 1000.0);
        total.push(t0.elapsed().as_secs_f64() * 1000.0);
        chunks = String::from_utf8_lossy(&a.body).matches("data: ").count();
    }
    first.sort_by(f64::total_cmp);
    total.sort_by(f64::total_cmp);
    (first[runs / 2], total[runs / 2], chunks)
}

/// Opens `n` slow streams at once, waits until each has its first chunk, then returns the
/// gateway's RSS (MB) while they are all open.
pub async fn rss_with_open_streams(addr: &str, token: &str, n: usize, pid: u32) -> f64 {
    let req = Rc::new(chat_request(
        token,
        "gpt-4o-mini",
        40,
        true,
        r#","mock":{"chunk_delay_ms":150}"#,
    ));
    let started = Rc::new(Cell::new(0usize));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (req, started, addr) = (req.clone(), started.clone(), addr.to_string());
            tokio::task::spawn_local(async move {
                let mut c = Conn::open(&addr).await;
                c.stream.write_all(&req).await.unwrap();
                // headers and the first chunk
                while find(&c.buf, b"data: ").is_none() {
                    assert!(c.fill().await, "stream closed early");
                }
                started.set(started.get() + 1);
                while c.fill().await {
                    if find(&c.buf, b"[DONE]").is_some() {
                        break;
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while started.get() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} streams started",
            started.get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss = rss_mb(pid);
    for t in tasks {
        t.await.unwrap();
    }
    rss
}

/// Alternates closed-loop runs against `a` and `b` for `rounds` rounds (so a noisy spell on
/// this shared machine hits both) and returns the median calls/s of each.
pub async fn throughput_ab(
    a: (&str, Rc<Vec<u8>>),
    b: (&str, Rc<Vec<u8>>),
    secs: f64,
    rounds: usize,
) -> (f64, f64) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        xs.push(throughput(a.0, a.1.clone(), 64, secs).await);
        ys.push(throughput(b.0, b.1.clone(), 64, secs).await);
    }
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    (xs[rounds / 2], ys[rounds / 2])
}
