//! Counting a process's heap allocations without changing its build: a small `LD_PRELOAD`
//! library (compiled here with the machine's C compiler) wraps glibc's allocation entry
//! points with one relaxed atomic add each, and writes the count so far to a file when the
//! process gets `SIGUSR2`. Any build of the gateway — this one or `BENCH_COMPARE_BIN`'s —
//! is counted the same way, so "allocations per call" compares like with like.

use std::path::{Path, PathBuf};
use std::time::Duration;

const SOURCE: &str = r#"
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static unsigned long count;
static char out[4096];

static void report(int sig) {
    (void)sig;
    char buf[32];
    int n = 0;
    unsigned long v = __atomic_load_n(&count, __ATOMIC_RELAXED);
    char tmp[32];
    do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n++] = '\n';
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) { ssize_t w = write(fd, buf, n); (void)w; close(fd); }
}

__attribute__((constructor)) static void init(void) {
    const char *p = getenv("COUNT_ALLOCS_OUT");
    if (!p) return;
    strncpy(out, p, sizeof out - 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = report;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, 0);
}

#define COUNT() __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED)
void *malloc(size_t n) { COUNT(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { COUNT(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { COUNT(); return __libc_realloc(p, n); }
int posix_memalign(void **r, size_t a, size_t n) {
    COUNT();
    void *p = __libc_memalign(a, n);
    if (!p) return 12;
    *r = p;
    return 0;
}
void *aligned_alloc(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
"#;

/// The preload library, built in `dir`; `None` when there is no C compiler (the
/// allocation rows are then left out).
pub fn build(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("count_allocs.c");
    let lib = dir.join("count_allocs.so");
    std::fs::write(&src, SOURCE).ok()?;
    let ok = std::process::Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .ok()?
        .success();
    ok.then_some(lib)
}

/// The environment that makes a process counted: its count goes to `out`.
pub fn env(lib: &Path, out: &Path) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), lib.display().to_string()),
        ("COUNT_ALLOCS_OUT".into(), out.display().to_string()),
    ]
}

/// Allocations process `pid` (started with [`env`]) has made so far.
pub async fn read(pid: u32, out: &Path) -> u64 {
    let _ = std::fs::remove_file(out);
    let _ = std::process::Command::new("kill")
        .args(["-USR2", &pid.to_string()])
        .status();
    for _ in 0..200 {
        if let Some(n) = std::fs::read_to_string(out)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no allocation count from process {pid}");
}
