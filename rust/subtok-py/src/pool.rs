//! The thread pool behind every batch call. It honours `RAYON_NUM_THREADS` and survives
//! `os.fork`: a child process (whose copy of the parent's pool has no threads) builds a fresh
//! pool instead of deadlocking on the inherited one.
use std::sync::{Arc, Mutex};

static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn pool() -> Arc<rayon::ThreadPool> {
    let pid = std::process::id();
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, pool)) = guard.as_ref() {
        if *p == pid {
            return pool.clone();
        }
    }
    // New process (first use, or a forked child): the old pool's threads do not exist here,
    // so never touch or drop it; build a new one.
    if let Some(old) = guard.take() {
        std::mem::forget(old);
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .build()
            .unwrap_or_else(|_| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .expect("a 1-thread pool")
            }),
    );
    *guard = Some((pid, pool.clone()));
    pool
}

/// Run `f` inside the fork-safe pool, so rayon's parallel iterators in the core use it.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Number of threads batch calls use (for tests and benchmarks).
#[pyo3::pyfunction]
pub fn num_threads() -> usize {
    pool().current_num_threads()
}
