//! The run's event log: time-stamped, readable lines, whole for a replay or only the
//! tail for a sweep (a violation prints the tail with its seed).

use std::collections::VecDeque;

/// Lines kept by a sweep's log.
pub const TAIL_LINES: usize = 60;

/// A time-stamped log of what happened.
#[derive(Debug, Clone)]
pub struct EventLog {
    lines: VecDeque<String>,
    cap: Option<usize>,
    total: usize,
}

impl EventLog {
    /// A log that keeps everything (`full`) or only the last [`TAIL_LINES`] lines.
    pub fn new(full: bool) -> Self {
        Self {
            lines: VecDeque::new(),
            cap: if full { None } else { Some(TAIL_LINES) },
            total: 0,
        }
    }

    /// Appends a line stamped with virtual time `at_ms`.
    pub fn push(&mut self, at_ms: u64, line: impl AsRef<str>) {
        self.total += 1;
        if let Some(cap) = self.cap {
            if self.lines.len() == cap {
                self.lines.pop_front();
            }
        }
        self.lines.push_back(format!(
            "[{:>5}.{:03}s] {}",
            at_ms / 1000,
            at_ms % 1000,
            line.as_ref()
        ));
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    /// How many lines were ever written (kept or not).
    pub fn total(&self) -> usize {
        self.total
    }

    /// The kept lines as one string.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}
