//! Where the API gets the time it stamps records with.

use std::sync::Mutex;

use lazarus_store::Time;

/// A source of wall-clock time. The API reads time only through this, so tests can fix it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Time;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the API reads the wall clock: record timestamps are wall time by
    // definition (Masakari's created_at/updated_at), so the edge reads it here.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Time {
        Time::from(std::time::SystemTime::now())
    }
}

/// A clock that stays where it is set (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<Time>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: Time) -> Self {
        Self(Mutex::new(t))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: Time) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Time {
        match self.0.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}
