//! Cooperative cancellation of long calls (Ctrl-C in Python).
//!
//! A caller that wants to be able to stop a call takes a [`CancelSlot`], runs the call inside
//! [`Cancel::enter`] with the slot's token, and calls [`CancelSlot::cancel`] from another thread.
//! The long loops of the core read the token of the current thread ([`Cancel::current`]) between
//! chunks and every [`CHECK_BYTES`] of one text, stop early, and the call returns
//! [`Error::Cancelled`]. Parallel loops capture the token once and re-enter it on the worker
//! threads, so concurrent calls never see each other's cancellation.
//!
//! Tokens are small indices into a fixed table of flags: entering and checking one costs a
//! thread-local read and a relaxed load, cheap enough for per-item use on the hot paths.
use crate::error::{Error, Result};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How many bytes of one text are processed between two checks.
pub const CHECK_BYTES: usize = 1 << 16;

const SLOTS: usize = 64;
static FLAGS: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
/// Bit i set = slot i in use. Slot 0 is never handed out: it means "not cancellable".
static USED: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT: Cell<u8> = const { Cell::new(0) };
}

/// The cancellation token of a running call (copyable; slot 0 = never cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancel(u8);

impl Cancel {
    /// A token that is never cancelled.
    pub const NONE: Cancel = Cancel(0);

    /// The token of the call running on this thread.
    #[inline]
    pub fn current() -> Cancel {
        Cancel(CURRENT.with(Cell::get))
    }
    #[inline]
    pub fn is_set(self) -> bool {
        self.0 != 0 && FLAGS[self.0 as usize].load(Ordering::Relaxed)
    }
    /// `Err(Error::Cancelled)` once the call was cancelled.
    #[inline]
    pub fn check(self) -> Result<()> {
        if self.is_set() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
    /// Run `f` with this token as the current one of this thread (restored afterwards).
    #[inline]
    pub fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(u8);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(self.0)));
        f()
    }
}

/// `true` once the call running on this thread was cancelled.
#[inline]
pub fn cancelled() -> bool {
    Cancel::current().is_set()
}

/// An owned cancellation flag; freed (and reusable) on drop.
#[derive(Debug)]
pub struct CancelSlot(u8);

impl CancelSlot {
    /// A fresh, unset flag; if all are in use, a slot that can never be cancelled.
    pub fn acquire() -> CancelSlot {
        let mut used = USED.load(Ordering::Acquire);
        loop {
            if used == u64::MAX {
                return CancelSlot(0);
            }
            let i = (!used).trailing_zeros() as u8;
            match USED.compare_exchange_weak(
                used,
                used | (1 << i),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    FLAGS[i as usize].store(false, Ordering::Release);
                    return CancelSlot(i);
                }
                Err(now) => used = now,
            }
        }
    }
    pub fn token(&self) -> Cancel {
        Cancel(self.0)
    }
    /// Ask the call to stop; it returns `Error::Cancelled` soon after.
    pub fn cancel(&self) {
        if self.0 != 0 {
            FLAGS[self.0 as usize].store(true, Ordering::Release);
        }
    }
}

impl Drop for CancelSlot {
    fn drop(&mut self) {
        if self.0 != 0 {
            USED.fetch_and(!(1u64 << self.0), Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_call_and_restored_and_exhaustion_is_safe() {
        let a = CancelSlot::acquire();
        let b = CancelSlot::acquire();
        assert_ne!(a.token(), b.token());
        assert_eq!(Cancel::current(), Cancel::NONE);
        a.token().enter(|| {
            assert_eq!(Cancel::current(), a.token());
            b.token().enter(|| assert_eq!(Cancel::current(), b.token()));
            a.cancel();
            assert!(cancelled());
            assert!(matches!(Cancel::current().check(), Err(Error::Cancelled)));
        });
        assert!(!cancelled());
        assert!(!b.token().is_set());
        let t = a.token();
        drop(a);
        let c = CancelSlot::acquire();
        assert!(!c.token().is_set());
        let _ = t;
        drop((b, c));
        // An exhausted table hands out uncancellable slots (one test: the table is global).
        let held: Vec<CancelSlot> = (0..SLOTS + 3).map(|_| CancelSlot::acquire()).collect();
        let none = held.iter().filter(|s| s.token() == Cancel::NONE).count();
        assert!(none >= 4);
        held.last().unwrap().cancel();
        assert!(!Cancel::NONE.is_set());
    }
}
