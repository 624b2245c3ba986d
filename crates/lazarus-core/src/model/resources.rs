//! Resource amounts and inventories, in the units Placement uses
//! (`VCPU`, `MEMORY_MB`, `DISK_GB`).

use serde::{Deserialize, Serialize};

/// An amount of each resource class: what a flavor asks for, or what a host has in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// `VCPU`.
    pub vcpu: u64,
    /// `MEMORY_MB`.
    pub memory_mb: u64,
    /// `DISK_GB`.
    pub disk_gb: u64,
}

impl Resources {
    /// Nothing at all.
    pub const ZERO: Resources = Resources {
        vcpu: 0,
        memory_mb: 0,
        disk_gb: 0,
    };

    /// A flavor-like amount.
    pub const fn new(vcpu: u64, memory_mb: u64, disk_gb: u64) -> Self {
        Self {
            vcpu,
            memory_mb,
            disk_gb,
        }
    }

    /// Component-wise sum, saturating.
    pub fn saturating_add(self, other: Resources) -> Resources {
        Resources {
            vcpu: self.vcpu.saturating_add(other.vcpu),
            memory_mb: self.memory_mb.saturating_add(other.memory_mb),
            disk_gb: self.disk_gb.saturating_add(other.disk_gb),
        }
    }

    /// Component-wise difference, saturating at zero.
    pub fn saturating_sub(self, other: Resources) -> Resources {
        Resources {
            vcpu: self.vcpu.saturating_sub(other.vcpu),
            memory_mb: self.memory_mb.saturating_sub(other.memory_mb),
            disk_gb: self.disk_gb.saturating_sub(other.disk_gb),
        }
    }

    /// Whether every component of `self` fits within `limit`.
    pub fn fits_within(self, limit: Resources) -> bool {
        self.vcpu <= limit.vcpu
            && self.memory_mb <= limit.memory_mb
            && self.disk_gb <= limit.disk_gb
    }
}

/// One resource class of a Placement inventory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Physical amount.
    pub total: u64,
    /// Amount kept back for the host itself.
    pub reserved: u64,
    /// Overcommit factor Placement applies: `(total - reserved) * allocation_ratio`.
    pub allocation_ratio: f64,
}

impl Inventory {
    /// An inventory with nothing reserved and no overcommit.
    pub const fn exact(total: u64) -> Self {
        Self {
            total,
            reserved: 0,
            allocation_ratio: 1.0,
        }
    }

    /// What Placement lets consumers allocate in all, as it computes it.
    pub fn allocatable(&self) -> u64 {
        let base = self.total.saturating_sub(self.reserved) as f64;
        let capacity = (base * self.allocation_ratio).floor();
        if capacity.is_finite() && capacity > 0.0 {
            capacity as u64
        } else {
            0
        }
    }
}

/// A host's inventories of the three resource classes lazarus plans with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// `VCPU` inventory.
    pub vcpu: Inventory,
    /// `MEMORY_MB` inventory.
    pub memory_mb: Inventory,
    /// `DISK_GB` inventory.
    pub disk_gb: Inventory,
}

impl Capacity {
    /// A capacity with Nova's default allocation ratios for new computes
    /// (`initial_cpu_allocation_ratio` 4.0, RAM 1.0, disk 1.0).
    pub const fn with_default_ratios(vcpu: u64, memory_mb: u64, disk_gb: u64) -> Self {
        Self {
            vcpu: Inventory {
                total: vcpu,
                reserved: 0,
                allocation_ratio: 4.0,
            },
            memory_mb: Inventory {
                total: memory_mb,
                reserved: 0,
                allocation_ratio: 1.0,
            },
            disk_gb: Inventory {
                total: disk_gb,
                reserved: 0,
                allocation_ratio: 1.0,
            },
        }
    }

    /// What may be allocated in all, per class.
    pub fn allocatable(&self) -> Resources {
        Resources {
            vcpu: self.vcpu.allocatable(),
            memory_mb: self.memory_mb.allocatable(),
            disk_gb: self.disk_gb.allocatable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_applies_reserved_then_ratio_like_placement() {
        let inv = Inventory {
            total: 16,
            reserved: 2,
            allocation_ratio: 4.0,
        };
        assert_eq!(inv.allocatable(), 56);
        let odd = Inventory {
            total: 10,
            reserved: 0,
            allocation_ratio: 1.5,
        };
        assert_eq!(odd.allocatable(), 15);
    }

    #[test]
    fn reserved_beyond_total_leaves_nothing() {
        let inv = Inventory {
            total: 4,
            reserved: 8,
            allocation_ratio: 16.0,
        };
        assert_eq!(inv.allocatable(), 0);
    }

    #[test]
    fn fits_within_needs_every_class_to_fit() {
        let limit = Resources::new(4, 4096, 40);
        assert!(Resources::new(4, 4096, 40).fits_within(limit));
        assert!(!Resources::new(1, 4097, 1).fits_within(limit));
        assert!(!Resources::new(5, 1, 1).fits_within(limit));
    }
}
