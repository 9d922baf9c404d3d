//! Liveness and readiness state shared by the worker (which flips it) and the HTTP endpoint
//! (which reports it). Ready means: connected to the broker and consuming; not ready while
//! connecting, reconnecting or draining. Liveness never depends on the broker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cheap, cloneable handle on the process's readiness.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
}

impl Readiness {
    /// A new handle, not ready.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Marks the worker ready (connected and consuming) or not.
    pub fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the worker is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_same_state() {
        let a = Readiness::new();
        let b = a.clone();
        assert!(!b.is_ready());
        a.set(true);
        assert!(b.is_ready());
        a.set(false);
        assert!(!b.is_ready());
    }
}
