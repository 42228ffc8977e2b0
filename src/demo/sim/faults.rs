//! The fault schedule: which device dies, which gateway drops, which sensor sticks, spikes,
//! drifts or sends garbage, and when. A pure function of the seed and the layout, in
//! simulated time, so the same seed replays the same incidents.
//!
//! The first six faults show one of each kind (in a seed-shuffled order) within the first
//! minute or so, so a short demo has something for alerts to catch; after that they come at
//! random, more often in bigger fleets.
//!
//! Every fault lasts long enough for the demo config's rules to see it: a device dies for
//! at least three of its reporting intervals (so it goes stale, if it has no last will), a
//! gateway stays down past `gateway_offline`'s 30 s `for`, a stuck or drifting sensor keeps
//! at it for at least six of its reports (a stuck-sensor window needs several equal ones).

use super::fleets::{fault_menu, interval_ms};
use super::layout::Layout;
use crate::demo::topics::Kind;

/// A fault, due at `at_ms` of simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at_ms: u64,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// The device stops (its LWT fires, or it just goes quiet); `None`: for good.
    Dies {
        device: usize,
        back_after_ms: Option<u64>,
    },
    /// A gateway's connection drops without DISCONNECT (its real LWT fires), then returns.
    GatewayDrops { gateway: usize, back_after_ms: u64 },
    /// A sensor flat-lines.
    Stuck {
        device: usize,
        metric: &'static str,
        for_ms: u64,
    },
    /// A sensor creeps off by `per_s` a simulated second, past its threshold.
    Drift {
        device: usize,
        metric: &'static str,
        per_s: f64,
        for_ms: u64,
    },
    /// One absurd reading.
    Spike {
        device: usize,
        metric: &'static str,
        value: f64,
    },
    /// One truncated message.
    Malformed { device: usize },
}

impl FaultKind {
    /// The device a fault is about; `None` for a gateway's.
    pub fn device(&self) -> Option<usize> {
        match *self {
            FaultKind::Dies { device, .. }
            | FaultKind::Stuck { device, .. }
            | FaultKind::Drift { device, .. }
            | FaultKind::Spike { device, .. }
            | FaultKind::Malformed { device } => Some(device),
            FaultKind::GatewayDrops { .. } => None,
        }
    }
}

impl Fault {
    /// A one-line description for logs: `stuck sensor: tank-north-003 level_pct for 240s`.
    pub fn describe(&self, layout: &Layout) -> String {
        let name = |d: usize| layout.devices[d].id.as_str();
        match &self.kind {
            FaultKind::Dies {
                device,
                back_after_ms: Some(b),
            } => {
                format!("device dies: {} (back in {}s)", name(*device), b / 1000)
            }
            FaultKind::Dies {
                device,
                back_after_ms: None,
            } => {
                format!("device dies: {} (for good)", name(*device))
            }
            FaultKind::GatewayDrops {
                gateway,
                back_after_ms,
            } => format!(
                "gateway drops: {} (back in {}s)",
                layout.gateways[*gateway].id,
                back_after_ms / 1000
            ),
            FaultKind::Stuck {
                device,
                metric,
                for_ms,
            } => {
                format!(
                    "stuck sensor: {} {metric} for {}s",
                    name(*device),
                    for_ms / 1000
                )
            }
            FaultKind::Drift {
                device,
                metric,
                per_s,
                for_ms,
            } => format!(
                "drifting sensor: {} {metric} {per_s:+}/s for {}s",
                name(*device),
                for_ms / 1000
            ),
            FaultKind::Spike {
                device,
                metric,
                value,
            } => {
                format!("spike: {} {metric} = {value}", name(*device))
            }
            FaultKind::Malformed { device } => format!("malformed JSON: {}", name(*device)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sort {
    Dies,
    Gateway,
    Stuck,
    Drift,
    Spike,
    Malformed,
}

/// An endless, deterministic stream of faults.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    rng: fastrand::Rng,
    at_ms: u64,
    mean_gap_ms: f64,
    /// Kinds still to show once before random picking starts.
    showcase: Vec<Sort>,
    fleets: Vec<(Kind, std::ops::Range<usize>)>,
    gateways: usize,
}

impl FaultPlan {
    pub fn new(seed: u64, layout: &Layout) -> FaultPlan {
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(0xd134_2543_de82_ef95) ^ 0xfa17);
        let gateways = layout.gateways.len();
        let mut showcase = vec![
            Sort::Dies,
            Sort::Stuck,
            Sort::Drift,
            Sort::Spike,
            Sort::Malformed,
        ];
        if gateways > 0 {
            showcase.push(Sort::Gateway);
        }
        rng.shuffle(&mut showcase);
        let fleets: Vec<_> = Kind::ALL
            .into_iter()
            .map(|k| (k, layout.range(k)))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        // Bigger fleets see more incidents, but never more than a few a second.
        let n = layout.devices.len().max(1) as f64;
        let mean_gap_ms = (12_000.0 * (200.0 / n).sqrt()).clamp(2_000.0, 20_000.0);
        FaultPlan {
            rng,
            at_ms: 8_000,
            mean_gap_ms,
            showcase,
            fleets,
            gateways,
        }
    }

    /// Devices flaky enough to send malformed JSON now and then, besides scheduled faults:
    /// one in fifty, at least one.
    pub fn flaky(seed: u64, devices: usize) -> Vec<bool> {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xf1a4_7e5e);
        let mut flaky: Vec<bool> = (0..devices).map(|_| rng.f64() < 0.02).collect();
        if devices > 0 && !flaky.contains(&true) {
            flaky[rng.usize(..devices)] = true;
        }
        flaky
    }

    /// The next fault, in time order.
    pub fn next_fault(&mut self) -> Option<Fault> {
        if self.fleets.is_empty() {
            return None;
        }
        let sort = match self.showcase.pop() {
            Some(s) => s,
            None => {
                let mut sorts = vec![
                    Sort::Dies,
                    Sort::Stuck,
                    Sort::Drift,
                    Sort::Spike,
                    Sort::Malformed,
                ];
                if self.gateways > 0 {
                    sorts.push(Sort::Gateway);
                }
                sorts[self.rng.usize(..sorts.len())]
            }
        };
        let at_ms = self.at_ms;
        let gap = self.mean_gap_ms * (0.5 + self.rng.f64());
        self.at_ms += gap as u64;
        let (kind, range) = self.fleets[self.rng.usize(..self.fleets.len())].clone();
        let device = self.rng.usize(range);
        let menu = fault_menu(kind);
        let reports = |n: u64| n * interval_ms(kind);
        let rng = &mut self.rng;
        let kind = match sort {
            Sort::Dies => FaultKind::Dies {
                device,
                back_after_ms: (rng.f64() < 0.6).then(|| rng.u64(60_000..240_000).max(reports(3))),
            },
            Sort::Gateway => FaultKind::GatewayDrops {
                gateway: rng.usize(..self.gateways),
                back_after_ms: rng.u64(45_000..120_000),
            },
            Sort::Stuck => FaultKind::Stuck {
                device,
                metric: menu.stuck[rng.usize(..menu.stuck.len())],
                for_ms: rng.u64(240_000..480_000).max(reports(6)),
            },
            Sort::Drift => {
                let (metric, per_s) = menu.drifts[rng.usize(..menu.drifts.len())];
                FaultKind::Drift {
                    device,
                    metric,
                    per_s,
                    for_ms: rng.u64(240_000..480_000).max(reports(6)),
                }
            }
            Sort::Spike => {
                let (metric, value) = menu.spikes[rng.usize(..menu.spikes.len())];
                FaultKind::Spike {
                    device,
                    metric,
                    value,
                }
            }
            Sort::Malformed => FaultKind::Malformed { device },
        };
        Some(Fault { at_ms, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(seed: u64, devices: usize, n: usize) -> Vec<Fault> {
        let layout = Layout::new(seed, devices);
        let mut plan = FaultPlan::new(seed, &layout);
        (0..n).map(|_| plan.next_fault().unwrap()).collect()
    }

    #[test]
    fn same_seed_same_faults() {
        assert_eq!(first(9, 200, 100), first(9, 200, 100));
        assert_ne!(first(9, 200, 100), first(10, 200, 100));
        assert_eq!(FaultPlan::flaky(9, 200), FaultPlan::flaky(9, 200));
        assert!(FaultPlan::flaky(9, 3).contains(&true));
    }

    #[test]
    fn every_kind_shows_early_and_times_increase() {
        let faults = first(1, 200, 6);
        let sorts: Vec<&str> = faults
            .iter()
            .map(|f| match f.kind {
                FaultKind::Dies { .. } => "dies",
                FaultKind::GatewayDrops { .. } => "gateway",
                FaultKind::Stuck { .. } => "stuck",
                FaultKind::Drift { .. } => "drift",
                FaultKind::Spike { .. } => "spike",
                FaultKind::Malformed { .. } => "malformed",
            })
            .collect();
        for s in ["dies", "gateway", "stuck", "drift", "spike", "malformed"] {
            assert!(sorts.contains(&s), "{s} missing from {sorts:?}");
        }
        assert!(faults.last().unwrap().at_ms < 90_000);
        let all = first(1, 200, 200);
        assert!(all.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        let layout = Layout::new(1, 200);
        assert!(all[0].describe(&layout).contains(':'));
    }

    #[test]
    fn gateway_faults_name_existing_gateways() {
        let layout = Layout::new(2, 4);
        let mut plan = FaultPlan::new(2, &layout);
        for _ in 0..50 {
            let f = plan.next_fault().unwrap();
            if let FaultKind::GatewayDrops { gateway, .. } = f.kind {
                assert!(gateway < layout.gateways.len());
            }
        }
    }
}
