//! Fixture builders and a small fake world (Nova, BMCs, a store and a timer queue) for
//! the engine's spec tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test fixtures

pub mod world;

use std::time::Duration;

use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::event::{Event, Heartbeat};
use lazarus_core::model::{
    Capacity, Cluster, FenceMethod, Host, Instance, Resources, RestartPriority, Segment, VmState,
};
use lazarus_core::policy::EngineConfig;
use lazarus_core::workflow::{InstanceStep, Phase};
use lazarus_core::{HostName, InstanceId, Record, Timestamp};

/// Builds a one-segment cluster.
#[derive(Debug)]
pub struct Fixture {
    pub cluster: Cluster,
    pub config: EngineConfig,
}

impl Fixture {
    /// A segment `seg` with the given hosts (16 vCPU, 32 GiB, 500 GB each, BMC fenced).
    pub fn hosts(names: &[&str]) -> Self {
        let mut cluster = Cluster::new();
        cluster.upsert_segment(Segment::new("seg", "seg"));
        for n in names {
            cluster
                .upsert_host(Host::new(
                    *n,
                    "seg",
                    Capacity::with_default_ratios(16, 32768, 500),
                ))
                .unwrap();
        }
        Self {
            cluster,
            config: EngineConfig::default(),
        }
    }

    /// Adds an instance (2 vCPU, 4 GiB, 20 GB, medium priority, active).
    pub fn instance(mut self, id: &str, host: &str) -> Self {
        self.add(
            id,
            host,
            RestartPriority::Medium,
            Resources::new(2, 4096, 20),
            VmState::Active,
        );
        self
    }

    /// Adds an instance with a priority.
    pub fn instance_with(mut self, id: &str, host: &str, priority: RestartPriority) -> Self {
        self.add(
            id,
            host,
            priority,
            Resources::new(2, 4096, 20),
            VmState::Active,
        );
        self
    }

    /// Adds an instance with given resources.
    pub fn big_instance(mut self, id: &str, host: &str, r: Resources) -> Self {
        self.add(id, host, RestartPriority::Medium, r, VmState::Active);
        self
    }

    fn add(
        &mut self,
        id: &str,
        host: &str,
        priority: RestartPriority,
        r: Resources,
        vm_state: VmState,
    ) {
        let mut i = Instance::new(id, host, r);
        i.priority = priority;
        i.vm_state = vm_state;
        self.cluster.upsert_instance(i).unwrap();
        let h = self.cluster.host_mut(&host.into()).unwrap();
        h.usage = h.usage.saturating_add(r);
    }

    pub fn fence(mut self, host: &str, method: FenceMethod) -> Self {
        self.cluster.host_mut(&host.into()).unwrap().fence_method = method;
        self
    }

    pub fn max_parallel(mut self, n: u32) -> Self {
        for s in self
            .cluster
            .segments()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
        {
            let mut seg = self.cluster.segment(&s).unwrap().clone();
            seg.policy.max_parallel_evacuations = n;
            self.cluster.upsert_segment(seg);
        }
        self
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        for s in self
            .cluster
            .segments()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
        {
            let mut seg = self.cluster.segment(&s).unwrap().clone();
            seg.policy.max_attempts_per_instance = n;
            self.cluster.upsert_segment(seg);
        }
        self
    }

    /// A started engine (resumed with no records), and the commands of its start.
    pub fn engine(self) -> (Engine, Vec<Command>) {
        let mut e = Engine::new(self.config, self.cluster);
        let out = e.resume(t(0), Vec::<Record>::new());
        (e, out)
    }
}

/// `ms` milliseconds after the epoch.
pub fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// `s` seconds after the epoch.
pub fn secs(s: u64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}

pub fn d(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

pub fn h(name: &str) -> HostName {
    HostName::new(name)
}

pub fn i(id: &str) -> InstanceId {
    InstanceId::new(id)
}

/// A heartbeat from `host` that reached `peers`.
pub fn hb(host: &str, peers: &[&str]) -> Event {
    let mut b = Heartbeat::healthy(host);
    for p in peers {
        b.reachable_peers.insert(h(p));
    }
    Event::HeartbeatReceived(b)
}

/// A compact, exact rendering of commands, so tests can assert whole sequences.
pub fn shapes(cmds: &[Command]) -> Vec<String> {
    cmds.iter().map(shape).collect()
}

pub fn shape(c: &Command) -> String {
    match c {
        Command::Persist(Record::Recovery(r)) => {
            let mut s = format!("persist {} {:?}", r.id.host, r.phase);
            if r.fence.confirmation.is_some() {
                s.push_str(" fenced");
            }
            for (id, ir) in &r.instances {
                let st = match &ir.step {
                    InstanceStep::Planned { target } => format!("planned->{target}"),
                    InstanceStep::Requested { target, attempt } => {
                        format!("requested->{target}#{attempt}")
                    }
                    InstanceStep::Accepted { target, attempt } => {
                        format!("accepted->{target}#{attempt}")
                    }
                    InstanceStep::Recovered { host } => format!("recovered@{host}"),
                    InstanceStep::GivenUp { .. } => "given-up".to_owned(),
                };
                s.push_str(&format!(" {id}:{st}"));
            }
            s
        }
        Command::Persist(Record::ProcessDisable(p)) => {
            format!("persist process-disable {} {}", p.host, p.disabled)
        }
        Command::FenceHost { host, attempt, .. } => format!("fence {host}#{attempt}"),
        Command::ReadPowerState { host } => format!("read-power {host}"),
        Command::MarkHostDown { host, reason } => format!("mark-down {host} ({})", &reason[..9]),
        Command::EvacuateInstance {
            instance,
            from,
            to,
            attempt,
        } => format!("evacuate {instance} {from}->{to}#{attempt}"),
        Command::CheckInstance { instance } => format!("check {instance}"),
        Command::ResetInstance { instance, .. } => format!("reset {instance}"),
        Command::RestartProcess { host, process } => format!("restart {host} {}", process.name()),
        Command::DisableHost { host, reason } => format!("disable {host} ({reason})"),
        Command::EnableHost { host } => format!("enable {host}"),
        Command::ReturnHostToService { host, enable } => format!("return {host} enable={enable}"),
        Command::ScheduleTimer { .. } => "timer".to_owned(),
        Command::RaiseAlert(a) => format!("alert {:?} {:?}", a.severity, a.kind),
        Command::RecoveryFinished(s) => format!("finished {} {:?}", s.id.host, s.outcome),
    }
}

/// The evacuations in a batch of commands.
pub fn evacuations(cmds: &[Command]) -> Vec<(InstanceId, HostName)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::EvacuateInstance { instance, to, .. } => Some((instance.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

/// The timer tokens scheduled in a batch, with their times.
pub fn timers(cmds: &[Command]) -> Vec<(Timestamp, lazarus_core::TimerToken)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::ScheduleTimer { at, token } => Some((*at, *token)),
            _ => None,
        })
        .collect()
}

pub fn phase(e: &Engine, host: &str) -> Option<Phase> {
    e.recovery(&h(host)).map(|r| r.phase)
}
