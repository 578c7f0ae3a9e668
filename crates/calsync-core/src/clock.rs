//! Time enters the core through a [`Clock`], never through a call to "now" inside logic.

use jiff::Timestamp;
use std::fmt::Debug;

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Timestamp;
}

/// The real wall clock, for the binary and servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the core may read the wall clock.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that always answers the same instant, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}
