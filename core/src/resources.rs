//! What a job's runs may use of their worker: memory, CPU and processes, each enforced with
//! the run's cgroup. A job names what it needs; a worker names the most it grants one run (its
//! ceilings) and what a run gets when its job names nothing (its defaults). The manager gives
//! a job only to a worker whose ceilings cover it; the worker refuses a run it cannot bound.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Bounds of the values a job may name: a run needs some memory to start at all, and values
/// past these are typing mistakes, not machines.
pub const MEMORY_MB: (u32, u32) = (8, 16 * 1024 * 1024);
pub const CPU_MILLIS: (u32, u32) = (10, 1024 * 1000);
pub const MAX_PROCESSES: (u32, u32) = (1, 4 * 1024 * 1024);

/// One run's bounds; `None` is "not named" (for a job) or "not enforced" (for a worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// Memory (and swap) in MiB; the kernel's OOM killer ends a run that needs more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// CPU time as thousandths of one core: 500 is half a core, 2000 two cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_millis: Option<u32>,
    /// Processes and threads at once (`pids.max`): a fork bomb stops here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_processes: Option<u32>,
}

/// Which of the three values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Memory,
    Cpu,
    Processes,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Memory, Resource::Cpu, Resource::Processes];

    /// The option's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Memory => "memory_mb",
            Resource::Cpu => "cpu_millis",
            Resource::Processes => "max_processes",
        }
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Resource::Memory => MEMORY_MB,
            Resource::Cpu => CPU_MILLIS,
            Resource::Processes => MAX_PROCESSES,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value out of its bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{resource} must be between {} and {}", .resource.bounds().0, .resource.bounds().1)]
pub struct OutOfBounds {
    pub resource: Resource,
}

impl Resources {
    pub fn get(&self, r: Resource) -> Option<u32> {
        match r {
            Resource::Memory => self.memory_mb,
            Resource::Cpu => self.cpu_millis,
            Resource::Processes => self.max_processes,
        }
    }

    pub fn set(&mut self, r: Resource, value: Option<u32>) {
        match r {
            Resource::Memory => self.memory_mb = value,
            Resource::Cpu => self.cpu_millis = value,
            Resource::Processes => self.max_processes = value,
        }
    }

    pub fn is_empty(&self) -> bool {
        Resource::ALL.iter().all(|r| self.get(*r).is_none())
    }

    /// Every named value within its bounds.
    pub fn validate(&self) -> Result<(), OutOfBounds> {
        for resource in Resource::ALL {
            let (low, high) = resource.bounds();
            if let Some(v) = self.get(resource)
                && !(low..=high).contains(&v)
            {
                return Err(OutOfBounds { resource });
            }
        }
        Ok(())
    }

    /// Why a run asking for `self` cannot have it under `ceilings` (a worker's), if it
    /// cannot: a value above its ceiling, or one the worker does not enforce.
    pub fn exceeds(&self, ceilings: &Resources) -> Option<String> {
        Resource::ALL.into_iter().find_map(|r| {
            let wanted = self.get(r)?;
            match ceilings.get(r) {
                None => Some(format!("{r} is not enforced here")),
                Some(most) if wanted > most => {
                    Some(format!("{r} {wanted} is above the ceiling of {most}"))
                }
                Some(_) => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_out_of_bounds_are_named() {
        let ok = Resources {
            memory_mb: Some(64),
            cpu_millis: Some(500),
            max_processes: Some(100),
        };
        assert_eq!(ok.validate(), Ok(()));
        let mut zero_cpu = ok;
        zero_cpu.cpu_millis = Some(0);
        let e = zero_cpu.validate().expect_err("0 cpu");
        assert_eq!(e.resource, Resource::Cpu);
        assert_eq!(e.to_string(), "cpu_millis must be between 10 and 1024000");
    }

    #[test]
    fn a_job_fits_a_worker_whose_ceilings_cover_every_value_it_names() {
        let ceilings = Resources {
            memory_mb: Some(1024),
            cpu_millis: Some(2000),
            max_processes: None,
        };
        assert_eq!(Resources::default().exceeds(&ceilings), None);
        let job = Resources {
            memory_mb: Some(1024),
            ..Default::default()
        };
        assert_eq!(job.exceeds(&ceilings), None);
        let big = Resources {
            memory_mb: Some(1025),
            ..Default::default()
        };
        assert_eq!(
            big.exceeds(&ceilings).as_deref(),
            Some("memory_mb 1025 is above the ceiling of 1024")
        );
        let pids = Resources {
            max_processes: Some(10),
            ..Default::default()
        };
        assert_eq!(
            pids.exceeds(&ceilings).as_deref(),
            Some("max_processes is not enforced here")
        );
    }

    #[test]
    fn only_named_values_are_serialized() {
        let r = Resources {
            cpu_millis: Some(250),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"cpu_millis":250}"#);
        let back: Resources = serde_json::from_str(r#"{"cpu_millis":250}"#).unwrap();
        assert_eq!(back, r);
    }
}
