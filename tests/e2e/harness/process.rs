//! Child processes under test: their output drained and waited on.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reads a child's output lines into a shared buffer.
pub fn drain<R: std::io::Read + Send + 'static>(reader: R, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
}

pub fn wait_for_line(out: &Arc<Mutex<String>>, marker: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        {
            let text = out.lock().unwrap();
            if let Some(at) = text.find(marker) {
                let rest = &text[at + marker.len()..];
                return rest.lines().next().unwrap_or("").trim().to_string();
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "process exited with {status} before '{marker}':\n{}",
                out.lock().unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for '{marker}'"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
