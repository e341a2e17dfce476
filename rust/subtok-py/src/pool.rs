//! The thread pool behind every batch call. It honours `RAYON_NUM_THREADS` and survives
//! `os.fork`: a child process (whose copy of the parent's pool has no threads) builds a fresh
//! pool instead of deadlocking on the inherited one. Long calls go through [`run`], which keeps
//! the calling thread free to notice Ctrl-C and cancel the work.
use crate::errors::panic_to_pyerr;
use pyo3::prelude::*;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtok_core::cancel::CancelSlot;

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

/// How often a waiting caller looks for Python signals (Ctrl-C).
const POLL: Duration = Duration::from_millis(20);

/// Run `f` in the fork-safe pool with the GIL released, while the calling thread waits and
/// checks for Python signals every [`POLL`]. When a signal handler raises (Ctrl-C ->
/// `KeyboardInterrupt`), `f` is cancelled through `subtok_core::cancel` (the core stops at its
/// next check, within milliseconds) and that exception is returned. A panic in `f` becomes a
/// `RuntimeError`, as in [`detached`].
pub fn run<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    let pool = pool();
    let slot = CancelSlot::acquire();
    let token = slot.token();
    let mut signal: Option<PyErr> = None;
    let out = py.detach(|| {
        pool.in_place_scope(|s| {
            let (tx, rx) = sync_channel(1);
            s.spawn(move |_| {
                let _ = tx.send(catch_unwind(AssertUnwindSafe(|| token.enter(f))));
            });
            loop {
                match rx.recv_timeout(POLL) {
                    Ok(r) => return r,
                    Err(RecvTimeoutError::Timeout) if signal.is_none() => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            slot.cancel();
                            signal = Some(e);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(Box::new("pool job vanished") as Box<dyn Any + Send>)
                    }
                }
            }
        })
    });
    match (signal, out) {
        (Some(e), _) => Err(e),
        (None, r) => r.map_err(panic_to_pyerr),
    }
}

/// Work on fewer input bytes than this finishes in milliseconds: [`run_sized`] runs it on the
/// calling thread, without the pool hand-off.
const SMALL_BYTES: usize = 1 << 18;

/// [`run`] for work on `bytes` input bytes; small work runs directly with the GIL released.
pub fn run_sized<R: Send>(py: Python<'_>, bytes: usize, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    if bytes < SMALL_BYTES {
        crate::errors::detached(py, f)
    } else {
        run(py, f)
    }
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
