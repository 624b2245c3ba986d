//! The simulated network: directed links between the controller, Nova's control plane
//! and every host, each of which faults can cut.

/// A party on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// The lazarus controller.
    Controller,
    /// Nova's control plane (API, conductor, database): what compute services report to.
    Nova,
    /// A compute host, by index.
    Host(usize),
}

/// Directed links, each with a count of the faults cutting it, so that healing one
/// partition does not heal another that overlaps it.
#[derive(Debug, Clone)]
pub struct Network {
    hosts: usize,
    cuts: Vec<u32>,
}

impl Network {
    /// A fully connected network of the controller, Nova and `hosts` hosts.
    pub fn new(hosts: usize) -> Self {
        let n = hosts + 2;
        Self {
            hosts,
            cuts: vec![0; n * n],
        }
    }

    fn slot(&self, from: Node, to: Node) -> usize {
        let idx = |n: Node| match n {
            Node::Controller => 0,
            Node::Nova => 1,
            Node::Host(i) => i + 2,
        };
        idx(from) * (self.hosts + 2) + idx(to)
    }

    /// Whether a message sent from `from` reaches `to` now.
    pub fn delivers(&self, from: Node, to: Node) -> bool {
        self.cuts.get(self.slot(from, to)).is_some_and(|c| *c == 0)
    }

    /// Cuts the link `from -> to` once more.
    pub fn cut(&mut self, from: Node, to: Node) {
        let s = self.slot(from, to);
        if let Some(c) = self.cuts.get_mut(s) {
            *c += 1;
        }
    }

    /// Undoes one cut of the link `from -> to`.
    pub fn heal(&mut self, from: Node, to: Node) {
        let s = self.slot(from, to);
        if let Some(c) = self.cuts.get_mut(s) {
            *c = c.saturating_sub(1);
        }
    }

    /// Heals every link at once.
    pub fn heal_all(&mut self) {
        self.cuts.iter_mut().for_each(|c| *c = 0);
    }

    /// The links a partition of `kind` around `host` cuts.
    pub fn links_of(&self, host: usize, kind: PartitionKind) -> Vec<(Node, Node)> {
        let h = Node::Host(host);
        let c = Node::Controller;
        match kind {
            PartitionKind::ControllerOnly => vec![(h, c), (c, h)],
            PartitionKind::HostToController => vec![(h, c)],
            PartitionKind::ControllerToHost => vec![(c, h)],
            PartitionKind::Total => {
                let mut v = vec![(h, c), (c, h), (h, Node::Nova), (Node::Nova, h)];
                for p in (0..self.hosts).filter(|p| *p != host) {
                    v.push((h, Node::Host(p)));
                    v.push((Node::Host(p), h));
                }
                v
            }
        }
    }
}

impl Network {
    /// The links a rack partition cuts: every host of `rack` loses the controller,
    /// Nova and every host outside the rack, both ways, but still reaches the others
    /// of the rack (a top-of-rack switch that lost its uplink).
    pub fn links_of_rack(&self, rack: &[usize]) -> Vec<(Node, Node)> {
        let mut v = Vec::new();
        for &h in rack {
            let me = Node::Host(h);
            for other in [Node::Controller, Node::Nova] {
                v.push((me, other));
                v.push((other, me));
            }
            for p in (0..self.hosts).filter(|p| !rack.contains(p)) {
                v.push((me, Node::Host(p)));
                v.push((Node::Host(p), me));
            }
        }
        v
    }
}

/// What a partition around one host cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind {
    /// Only the controller and the host lose each other; peers and Nova still hear it.
    ControllerOnly,
    /// One-way: the controller stops hearing the host, the host still hears it.
    HostToController,
    /// One-way: the host stops hearing the controller, the controller still hears it.
    ControllerToHost,
    /// The host is cut from everything: controller, Nova and every peer.
    Total,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_cuts_need_as_many_heals() {
        let mut n = Network::new(3);
        let a = Node::Host(1);
        n.cut(a, Node::Controller);
        n.cut(a, Node::Controller);
        n.heal(a, Node::Controller);
        assert!(!n.delivers(a, Node::Controller));
        assert!(n.delivers(Node::Controller, a));
        n.heal(a, Node::Controller);
        assert!(n.delivers(a, Node::Controller));
    }

    #[test]
    fn a_total_partition_cuts_peers_and_nova_too() {
        let n = Network::new(3);
        let links = n.links_of(0, PartitionKind::Total);
        assert!(links.contains(&(Node::Host(0), Node::Host(2))));
        assert!(links.contains(&(Node::Nova, Node::Host(0))));
        assert_eq!(links.len(), 8);
    }

    #[test]
    fn a_rack_keeps_its_own_links_and_loses_every_other() {
        let mut n = Network::new(5);
        for (a, b) in n.links_of_rack(&[0, 1]) {
            n.cut(a, b);
        }
        assert!(n.delivers(Node::Host(0), Node::Host(1)));
        assert!(n.delivers(Node::Host(1), Node::Host(0)));
        assert!(!n.delivers(Node::Host(0), Node::Controller));
        assert!(!n.delivers(Node::Controller, Node::Host(1)));
        assert!(!n.delivers(Node::Host(2), Node::Host(1)));
        assert!(!n.delivers(Node::Nova, Node::Host(0)));
        assert!(n.delivers(Node::Host(2), Node::Controller));
    }
}
