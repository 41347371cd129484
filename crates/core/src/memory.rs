//! Memory escalation after an `OutOfMemoryError` (`retry.onOutOfMemory`), the way Nextflow retries a process
//! with more memory: the next attempt runs with a task-level memory override, `memoryMultiplier` times the
//! memory the task had, up to `maxMemoryMiB`.
//!
//! On Fargate only some CPU/memory pairs exist, so the next size is the smallest valid pair with at least the
//! wanted memory and no less CPU; RunTask would refuse anything else. On EC2 any task memory is allowed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A task's size: CPU units (1024 = 1 vCPU; unknown on EC2 tasks without task-level CPU) and memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskSize {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    pub memory_mib: u32,
}

impl fmt::Display for TaskSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cpu {
            Some(cpu) => write!(f, "{} MiB memory, {cpu} CPU units", self.memory_mib),
            None => write!(f, "{} MiB memory", self.memory_mib),
        }
    }
}

/// `retry.onOutOfMemory`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryEscalation {
    /// Factor applied to the memory of the attempt that ran out, e.g. 2.0.
    pub memory_multiplier: f64,
    /// Never ask for more than this.
    #[serde(rename = "maxMemoryMiB")]
    pub max_memory_mib: u32,
}

/// Fargate's largest task: 16 vCPU, 120 GiB.
pub const MAX_FARGATE_MEMORY_MIB: u32 = 122_880;
pub const MAX_MEMORY_MULTIPLIER: f64 = 8.0;

impl MemoryEscalation {
    pub fn validate(&self, prefix: &str, problems: &mut Vec<String>) {
        let m = self.memory_multiplier;
        if m.is_nan() || m <= 1.0 || m > MAX_MEMORY_MULTIPLIER {
            problems.push(format!(
                "{prefix}memoryMultiplier must be more than 1.0 and at most {MAX_MEMORY_MULTIPLIER} (got {m})"
            ));
        }
        if !(128..=MAX_FARGATE_MEMORY_MIB * 4).contains(&self.max_memory_mib) {
            problems.push(format!(
                "{prefix}maxMemoryMiB must be between 128 and {} (got {})",
                MAX_FARGATE_MEMORY_MIB * 4,
                self.max_memory_mib
            ));
        }
    }
}

/// Fargate's CPU sizes and the memory each allows: (cpu, lowest, highest, step), in MiB.
const FARGATE: [(u32, u32, u32, u32); 7] = [
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// Every valid Fargate size, smallest memory first (then smallest CPU).
pub fn fargate_sizes() -> Vec<TaskSize> {
    let mut sizes: Vec<TaskSize> = FARGATE
        .iter()
        .flat_map(|&(cpu, low, high, step)| {
            // 256 CPU allows 512, 1024 and 2048 only (not 1536).
            (low..=high)
                .step_by(step as usize)
                .filter(move |m| cpu != 256 || m.is_power_of_two())
                .map(move |m| TaskSize {
                    cpu: Some(cpu),
                    memory_mib: m,
                })
        })
        .collect();
    sizes.sort_by_key(|s| (s.memory_mib, s.cpu));
    sizes
}

/// Whether Fargate accepts this size.
pub fn is_valid_fargate(size: TaskSize) -> bool {
    fargate_sizes().contains(&size)
}

/// Why no bigger size can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoBiggerSize {
    /// The attempt already had `maxMemoryMiB` (or no valid size lies between it and the cap).
    AtMaximum { max_memory_mib: u32 },
    /// The event did not say how much memory the task had.
    Unknown,
}

impl fmt::Display for NoBiggerSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoBiggerSize::AtMaximum { max_memory_mib } => {
                write!(f, "no bigger size within maxMemoryMiB {max_memory_mib}")
            }
            NoBiggerSize::Unknown => f.write_str("the task's memory is unknown (not in the event)"),
        }
    }
}

/// The size of the attempt after one that ran out of memory at `current`.
pub fn escalate(
    current: Option<TaskSize>,
    fargate: bool,
    policy: &MemoryEscalation,
) -> Result<TaskSize, NoBiggerSize> {
    let current = current.ok_or(NoBiggerSize::Unknown)?;
    let at_max = NoBiggerSize::AtMaximum {
        max_memory_mib: policy.max_memory_mib,
    };
    let wanted = (f64::from(current.memory_mib) * policy.memory_multiplier).ceil();
    let wanted = wanted.min(f64::from(policy.max_memory_mib)) as u32;
    if wanted <= current.memory_mib {
        return Err(at_max);
    }
    if !fargate {
        return Ok(TaskSize {
            cpu: current.cpu,
            memory_mib: wanted,
        });
    }
    let min_cpu = current.cpu.unwrap_or(0);
    fargate_sizes()
        .into_iter()
        .find(|s| {
            s.memory_mib >= wanted
                && s.memory_mib <= policy.max_memory_mib
                && s.cpu.unwrap_or(0) >= min_cpu
        })
        .or_else(|| {
            // The cap itself may not be a valid size: take the biggest valid one under it, if bigger.
            fargate_sizes()
                .into_iter()
                .filter(|s| {
                    s.memory_mib > current.memory_mib
                        && s.memory_mib <= policy.max_memory_mib
                        && s.cpu.unwrap_or(0) >= min_cpu
                })
                .min_by_key(|s| (std::cmp::Reverse(s.memory_mib), s.cpu))
        })
        .ok_or(at_max)
}

/// CPU units or memory as ECS writes them in a task: `"256"`, or in a task definition's style `"1 vCPU"`,
/// `"2 GB"`, `"0.5GB"`.
pub fn parse_units(text: &str, unit_word: &str) -> Option<u32> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u32>() {
        return Some(n);
    }
    let lower = t.to_ascii_lowercase();
    let number = lower.strip_suffix(unit_word)?.trim();
    let value: f64 = number.parse().ok()?;
    (value > 0.0).then(|| (value * 1024.0).round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(cpu: u32, memory_mib: u32) -> TaskSize {
        TaskSize {
            cpu: Some(cpu),
            memory_mib,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn escalation_table() {
        let p = |memory_multiplier, max_memory_mib| MemoryEscalation {
            memory_multiplier,
            max_memory_mib,
        };
        let at_max = |max_memory_mib| Err(NoBiggerSize::AtMaximum { max_memory_mib });
        #[rustfmt::skip]
        let cases: Vec<(Option<TaskSize>, bool, MemoryEscalation, Result<TaskSize, NoBiggerSize>)> = vec![
            // Fargate: the smallest valid size with the memory, CPU raised only when it must be.
            (Some(size(256, 512)), true, p(2.0, 8192), Ok(size(256, 1024))),
            (Some(size(256, 1024)), true, p(2.0, 8192), Ok(size(256, 2048))),
            (Some(size(256, 2048)), true, p(2.0, 8192), Ok(size(512, 4096))),
            (Some(size(256, 2048)), true, p(1.5, 8192), Ok(size(512, 3072))),
            (Some(size(1024, 8192)), true, p(2.0, 30720), Ok(size(2048, 16384))),
            (Some(size(4096, 30720)), true, p(1.5, 122880), Ok(size(8192, 49152))),
            (Some(size(8192, 61440)), true, p(2.0, 122880), Ok(size(16384, 122880))),
            // The cap: reached, not passed; a cap that is not a valid size takes the biggest valid one below.
            (Some(size(1024, 4096)), true, p(4.0, 6000), Ok(size(1024, 5120))),
            (Some(size(1024, 4096)), true, p(2.0, 4096), at_max(4096)),
            (Some(size(16384, 122880)), true, p(2.0, 122880), at_max(122880)),
            // CPU never goes down.
            (Some(size(4096, 8192)), true, p(2.0, 30720), Ok(size(4096, 16384))),
            // EC2: any memory, CPU kept (or unknown).
            (Some(TaskSize { cpu: None, memory_mib: 300 }), false, p(2.0, 4096), Ok(TaskSize { cpu: None, memory_mib: 600 })),
            (Some(size(512, 3000)), false, p(2.0, 4096), Ok(size(512, 4096))),
            (None, true, p(2.0, 4096), Err(NoBiggerSize::Unknown)),
        ];
        for (current, fargate, policy, expected) in cases {
            assert_eq!(
                escalate(current, fargate, &policy),
                expected,
                "{current:?} fargate={fargate} {policy:?}"
            );
        }
    }

    #[test]
    fn every_fargate_escalation_is_a_valid_size() {
        for from in fargate_sizes() {
            for multiplier in [1.1, 1.5, 2.0, 3.0] {
                let policy = MemoryEscalation {
                    memory_multiplier: multiplier,
                    max_memory_mib: MAX_FARGATE_MEMORY_MIB,
                };
                if let Ok(to) = escalate(Some(from), true, &policy) {
                    assert!(is_valid_fargate(to), "{from:?} ×{multiplier} → {to:?}");
                    assert!(to.memory_mib > from.memory_mib && to.cpu >= from.cpu);
                }
            }
        }
    }

    #[test]
    fn units() {
        for (text, word, expected) in [
            ("256", "vcpu", Some(256)),
            ("1 vCPU", "vcpu", Some(1024)),
            ("0.25 vcpu", "vcpu", Some(256)),
            ("2 GB", "gb", Some(2048)),
            ("0.5GB", "gb", Some(512)),
            ("lots", "gb", None),
            ("-1 GB", "gb", None),
        ] {
            assert_eq!(parse_units(text, word), expected, "{text}");
        }
    }
}
