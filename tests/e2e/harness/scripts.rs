//! Real clients as child processes: Python SDK scripts and Claude Code / Codex runs.

#![allow(dead_code)]

use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Whether the Python `module` can be used; its absence fails the test where `required_by`
/// is set to 1.
pub fn sdk_ready(module: &str, required_by: &str) -> bool {
    let available = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    let required = std::env::var(required_by).is_ok_and(|v| v == "1");
    assert!(
        available || !required,
        "{required_by}=1 but `import {module}` fails"
    );
    if !available {
        eprintln!("skipping: the {module} Python package is not installed");
    }
    available
}

/// Runs a check script from tests/sdk with `args`; fails the test with its output.
pub fn run_check(script: &str, args: &[&str]) {
    run_script(&format!("tests/sdk/{script}"), args);
}

/// Runs the Python script at `path` (relative to the crate) with `args`; fails the test
/// with its output.
pub fn run_script(path: &str, args: &[&str]) {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(&full)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{path} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child's output once it exits; killed (and the test failed) past `limit`, so a client
/// that waits for a network this machine does not have cannot hang the suite.
pub fn wait_at_most(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("wait for Claude Code").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child
                .wait_with_output()
                .expect("collect Claude Code's output");
            panic!(
                "Claude Code still running after {limit:?}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
        .wait_with_output()
        .expect("collect Claude Code's output")
}
