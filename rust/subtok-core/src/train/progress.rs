//! Progress reporting for training. The core never prints on its own: callers pass a
//! [`Progress`] (the default [`NoProgress`] is silent); [`StderrBar`] draws a bar on
//! stderr when the caller asks for one.
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Receives training progress. Called from worker threads, possibly very often:
/// implementations throttle themselves.
pub trait Progress: Sync {
    /// A stage starts ("count words", "count pairs", "merge"); `total` units, 0 if unknown.
    fn start(&self, _stage: &str, _total: u64) {}
    /// `done` units of the current stage are complete.
    fn update(&self, _done: u64) {}
    /// The current stage is over.
    fn finish(&self) {}
    /// Polled between units of work: return true to abort training (e.g. Ctrl-C).
    fn should_stop(&self) -> bool {
        false
    }
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

struct BarState {
    stage: String,
    total: u64,
    done: u64,
    started: Instant,
    last_draw: Option<Instant>,
}

/// A one-line progress bar on stderr, redrawn at most `fps` times per second.
pub struct StderrBar {
    state: Mutex<BarState>,
    interval: Duration,
}

impl StderrBar {
    pub fn new(fps: u32) -> Self {
        StderrBar {
            state: Mutex::new(BarState {
                stage: String::new(),
                total: 0,
                done: 0,
                started: Instant::now(),
                last_draw: None,
            }),
            interval: Duration::from_millis(1000 / u64::from(fps.max(1))),
        }
    }

    fn draw(st: &BarState, end: bool) {
        let secs = st.started.elapsed().as_secs_f64();
        let line = if st.total > 0 {
            let frac = (st.done as f64 / st.total as f64).clamp(0.0, 1.0);
            let width = 30;
            let fill = (frac * width as f64).round() as usize;
            format!(
                "\r{:<12} [{}{}] {:>3.0}% {}/{} {:.1}s",
                st.stage,
                "#".repeat(fill),
                "-".repeat(width - fill),
                frac * 100.0,
                human(st.done),
                human(st.total),
                secs
            )
        } else {
            format!("\r{:<12} {} {:.1}s", st.stage, human(st.done), secs)
        };
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(line.as_bytes());
        let _ = e.write_all(if end { b"\x1b[K\n" } else { b"\x1b[K" });
        let _ = e.flush();
    }
}

fn human(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=9_999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

impl Progress for StderrBar {
    fn start(&self, stage: &str, total: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *st = BarState {
            stage: stage.to_string(),
            total,
            done: 0,
            started: Instant::now(),
            last_draw: None,
        };
        Self::draw(&st, false);
        st.last_draw = Some(Instant::now());
    }
    fn update(&self, done: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.done = st.done.max(done);
        let due = st.last_draw.is_none_or(|t| t.elapsed() >= self.interval);
        if due {
            Self::draw(&st, false);
            st.last_draw = Some(Instant::now());
        }
    }
    fn finish(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.total > 0 {
            st.done = st.total;
        }
        Self::draw(&st, true);
    }
}
