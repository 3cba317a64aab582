//! Counting panics, wherever they happen.
//!
//! tokio catches a panic in a spawned task and turns it into a `JoinError`,
//! so a server task that panics would not fail a target by itself. Every
//! target calls [`watch`], which chains a hook that counts panics before the
//! previous hook runs (libFuzzer's aborts; the test harness's prints), and
//! asserts the count did not move while the case ran. The count is per
//! process, so cases run one at a time ([`one_at_a_time`]): the test harness
//! runs tests on parallel threads, and another test's panic must not be
//! blamed on this case.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

static PANICS: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Held while a case runs (a case that panicked leaves it usable).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the counting hook (once per process).
pub fn watch() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Panics seen so far in this process.
pub fn count() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Panics (with `what`) if any panic happened since `before` was read.
pub fn assert_none_since(before: usize, what: &str) {
    let now = count();
    assert!(
        now == before,
        "{} panic(s) while {what} (the message is printed above)",
        now - before
    );
}
