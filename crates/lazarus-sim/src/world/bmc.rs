//! A simulated BMC (Redfish or IPMI), with the faults real ones show.

/// How a BMC misbehaves, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmcFault {
    /// Answers, but ten times slower than usual.
    Slow,
    /// Answers every request with an error.
    Failing,
    /// Does not answer at all (the caller times out).
    Mute,
}

/// A host's BMC: its fault (if any) and the power change it is carrying out.
#[derive(Debug, Clone, Default)]
pub struct SimBmc {
    /// The current fault.
    pub fault: Option<BmcFault>,
    /// The BMC has no power (the whole chassis lost it): mute whatever its fault says.
    pub unpowered: bool,
    /// Power-off requests it accepted.
    pub power_offs: u32,
}

/// How a BMC answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmcAnswer {
    /// It answers after this many milliseconds.
    After(u64),
    /// It answers with an error after this many milliseconds.
    ErrorAfter(u64),
    /// It never answers.
    Never,
}

impl SimBmc {
    /// How it answers a request, given a normal latency `base_ms`.
    pub fn answer(&self, base_ms: u64) -> BmcAnswer {
        if self.unpowered {
            return BmcAnswer::Never;
        }
        match self.fault {
            None => BmcAnswer::After(base_ms),
            Some(BmcFault::Slow) => BmcAnswer::After(base_ms.saturating_mul(10)),
            Some(BmcFault::Failing) => BmcAnswer::ErrorAfter(base_ms),
            Some(BmcFault::Mute) => BmcAnswer::Never,
        }
    }
}
