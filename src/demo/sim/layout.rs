//! Who is in the simulated fleet: device ids, sites, gateways. A pure function of the seed
//! and the device count, so the same seed always names the same devices.

use crate::demo::topics::{self, Kind, Vars};
use std::ops::Range;

/// Share of the devices per fleet, in `Kind::ALL` order: 200 devices are 48 tanks, 64 poles,
/// 16 weather stations, 48 meters and 24 vans.
const WEIGHTS: [usize; 5] = [6, 8, 2, 6, 3];

/// Tank sites, each behind one cellular gateway.
const TANK_SITES: &[&str] = &[
    "north", "south", "east", "west", "ridge", "valley", "lake", "mill", "harbor", "quarry",
    "meadow", "pine", "cedar", "oak", "river", "summit", "canyon", "delta", "prairie", "forest",
    "island", "bay", "marsh", "orchard",
];
const TANKS_PER_SITE: usize = 8;
const MAX_TANK_SITES: usize = 48;

const WEATHER_SITES: &[&str] = &[
    "ridge", "summit", "valley", "coast", "plain", "hill", "field", "vineyard", "orchard",
    "airport", "harbor", "dune",
];
const STATIONS_PER_SITE: usize = 2;
const MAX_WEATHER_SITES: usize = 24;

const POLES_PER_GATEWAY: usize = 16;
const MAX_POLE_GATEWAYS: usize = 32;

/// One simulated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub id: String,
    pub kind: Kind,
    /// The `{site}` label (tanks, weather stations).
    pub site: Option<String>,
    /// Index into [`Layout::gateways`] (tanks, poles).
    pub gateway: Option<usize>,
}

/// A gateway with a real MQTT connection and a last will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySpec {
    pub id: String,
    pub kind: Kind,
    pub site: Option<String>,
}

/// The whole simulated fleet. Devices are grouped by kind, in `Kind::ALL` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub devices: Vec<DeviceSpec>,
    pub gateways: Vec<GatewaySpec>,
    ranges: [Range<usize>; 5],
}

impl Layout {
    pub fn new(seed: u64, devices: usize) -> Layout {
        let mut rng =
            fastrand::Rng::with_seed(seed ^ 0x1a40_u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let counts = split(devices);
        let mut out = Vec::with_capacity(devices);
        let mut gateways = Vec::new();
        let mut ranges: [Range<usize>; 5] = Default::default();
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            let start = out.len();
            let n = counts[k];
            match kind {
                Kind::Tank => tanks(n, &mut rng, &mut out, &mut gateways),
                Kind::Pole => poles(n, &mut out, &mut gateways),
                Kind::Weather => weather(n, &mut rng, &mut out),
                Kind::Meter => numbered(n, "meter", 4, Kind::Meter, &mut out),
                Kind::Vehicle => numbered(n, "van", 2, Kind::Vehicle, &mut out),
            }
            ranges[k] = start..out.len();
        }
        Layout {
            devices: out,
            gateways,
            ranges,
        }
    }

    /// Indices of one fleet's devices.
    pub fn range(&self, kind: Kind) -> Range<usize> {
        self.ranges[kind as usize].clone()
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.range(kind).len()
    }

    /// Messages a second at the fleets' natural pace.
    pub fn natural_rate(&self) -> f64 {
        rate_of(Kind::ALL.map(|k| self.count(k)))
    }

    /// Template values for a device's topics.
    pub fn vars<'a>(&'a self, d: &'a DeviceSpec) -> Vars<'a> {
        Vars {
            site: d.site.as_deref(),
            gateway: d.gateway.map(|g| self.gateways[g].id.as_str()),
            device: Some(d.id.as_str()),
            metric: None,
        }
    }

    /// The gateway's availability topic.
    pub fn gateway_status_topic(&self, prefix: &str, g: usize) -> String {
        let gw = &self.gateways[g];
        let vars = Vars {
            site: gw.site.as_deref(),
            gateway: Some(gw.id.as_str()),
            ..Vars::default()
        };
        topics::gateway_status_topic(prefix, gw.kind, &vars)
            .unwrap_or_else(|| panic!("demo layout: {} gateways have no status topic", gw.kind))
    }
}

/// Messages a second at the fleets' natural pace for `devices` devices, without laying
/// them out.
pub fn natural_rate(devices: usize) -> f64 {
    rate_of(split(devices))
}

fn rate_of(counts: [usize; 5]) -> f64 {
    Kind::ALL
        .into_iter()
        .map(|k| {
            let per_tick = super::fleets::messages_per_tick(k);
            counts[k as usize] as f64 * per_tick * 1000.0 / super::fleets::interval_ms(k) as f64
        })
        .sum()
}

/// Devices per fleet: at least one each from five devices on, the rest by weight.
pub fn split(n: usize) -> [usize; 5] {
    if n < 5 {
        let mut c = [0; 5];
        c.iter_mut().take(n).for_each(|x| *x = 1);
        return c;
    }
    let total: usize = WEIGHTS.iter().sum();
    let mut c = WEIGHTS.map(|w| (n * w / total).max(1));
    // Rounding leaves a few over or under; settle them on the biggest fleets.
    let mut by_weight: Vec<usize> = (0..5).collect();
    by_weight.sort_by_key(|&i| std::cmp::Reverse(WEIGHTS[i]));
    let mut i = 0;
    while c.iter().sum::<usize>() < n {
        c[by_weight[i % 5]] += 1;
        i += 1;
    }
    while c.iter().sum::<usize>() > n {
        let j = *by_weight
            .iter()
            .find(|&&j| c[j] > 1)
            .expect("n >= 5 leaves a fleet with more than one device");
        c[j] -= 1;
    }
    c
}

/// Digits needed to number `n` items, at least `min`.
fn width(n: usize, min: usize) -> usize {
    n.max(1).to_string().len().max(min)
}

/// Site names, shuffled by the seed; past the list's end they repeat as `north2`, `north3`.
fn site_names(list: &[&str], n: usize, rng: &mut fastrand::Rng) -> Vec<String> {
    let mut names: Vec<&str> = list.to_vec();
    rng.shuffle(&mut names);
    (0..n)
        .map(|i| match i / names.len() {
            0 => names[i % names.len()].to_string(),
            round => format!("{}{}", names[i % names.len()], round + 1),
        })
        .collect()
}

fn tanks(n: usize, rng: &mut fastrand::Rng, out: &mut Vec<DeviceSpec>, gw: &mut Vec<GatewaySpec>) {
    if n == 0 {
        return;
    }
    let sites = n.div_ceil(TANKS_PER_SITE).clamp(1, MAX_TANK_SITES);
    let names = site_names(TANK_SITES, sites, rng);
    let per_site = n.div_ceil(sites);
    let w = width(per_site, 3);
    for (s, site) in names.iter().enumerate() {
        let count = per_site.min(n.saturating_sub(s * per_site));
        if count == 0 {
            break;
        }
        let g = gw.len();
        gw.push(GatewaySpec {
            id: format!("cgw-{site}"),
            kind: Kind::Tank,
            site: Some(site.clone()),
        });
        for k in 1..=count {
            out.push(DeviceSpec {
                id: format!("tank-{site}-{k:0w$}"),
                kind: Kind::Tank,
                site: Some(site.clone()),
                gateway: Some(g),
            });
        }
    }
}

fn poles(n: usize, out: &mut Vec<DeviceSpec>, gw: &mut Vec<GatewaySpec>) {
    if n == 0 {
        return;
    }
    let gateways = n.div_ceil(POLES_PER_GATEWAY).clamp(1, MAX_POLE_GATEWAYS);
    let per_gw = n.div_ceil(gateways);
    let w = width(n, 3);
    let gw_w = width(gateways, 2);
    let first = gw.len();
    for g in 0..n.div_ceil(per_gw) {
        gw.push(GatewaySpec {
            id: format!("lora-gw-{:0gw_w$}", g + 1),
            kind: Kind::Pole,
            site: None,
        });
    }
    for i in 0..n {
        out.push(DeviceSpec {
            id: format!("pole-{:0w$}", i + 1),
            kind: Kind::Pole,
            site: None,
            gateway: Some(first + i / per_gw),
        });
    }
}

fn weather(n: usize, rng: &mut fastrand::Rng, out: &mut Vec<DeviceSpec>) {
    if n == 0 {
        return;
    }
    let sites = n.div_ceil(STATIONS_PER_SITE).clamp(1, MAX_WEATHER_SITES);
    let names = site_names(WEATHER_SITES, sites, rng);
    let per_site = n.div_ceil(sites);
    let w = width(per_site, 2);
    for (s, site) in names.iter().enumerate() {
        let count = per_site.min(n.saturating_sub(s * per_site));
        for k in 1..=count {
            out.push(DeviceSpec {
                id: format!("wx-{site}-{k:0w$}"),
                kind: Kind::Weather,
                site: Some(site.clone()),
                gateway: None,
            });
        }
    }
}

fn numbered(n: usize, stem: &str, min_width: usize, kind: Kind, out: &mut Vec<DeviceSpec>) {
    let w = width(n, min_width);
    for i in 1..=n {
        out.push(DeviceSpec {
            id: format!("{stem}-{i:0w$}"),
            kind,
            site: None,
            gateway: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn default_split_and_readable_ids() {
        assert_eq!(split(200), [48, 64, 16, 48, 24]);
        assert_eq!(split(3), [1, 1, 1, 0, 0]);
        for n in [5, 6, 7, 11, 99, 201, 10_000, 100_000] {
            let c = split(n);
            assert_eq!(c.iter().sum::<usize>(), n, "{n}");
            assert!(c.iter().all(|&x| x >= 1), "{n}: {c:?}");
        }
        let l = Layout::new(1, 200);
        let ids: Vec<&str> = l.devices.iter().map(|d| d.id.as_str()).collect();
        assert!(
            ids.iter()
                .any(|i| i.starts_with("tank-") && i.ends_with("-003"))
        );
        assert!(ids.contains(&"pole-017"));
        assert!(
            ids.iter()
                .any(|i| i.starts_with("wx-") && i.ends_with("-02"))
        );
        assert!(ids.contains(&"meter-0042"));
        assert!(ids.contains(&"van-07"));
        assert_eq!(l.count(Kind::Tank), 48);
        assert_eq!(
            l.gateways.iter().filter(|g| g.kind == Kind::Tank).count(),
            6
        );
        assert_eq!(
            l.gateways.iter().filter(|g| g.kind == Kind::Pole).count(),
            4
        );
    }

    #[test]
    fn same_seed_same_ids_and_ids_are_unique_at_scale() {
        assert_eq!(Layout::new(7, 500), Layout::new(7, 500));
        assert_ne!(Layout::new(7, 500).devices, Layout::new(8, 500).devices);
        for n in [1, 5, 37, 10_000] {
            let l = Layout::new(3, n);
            assert_eq!(l.devices.len(), n);
            let unique: HashSet<&str> = l.devices.iter().map(|d| d.id.as_str()).collect();
            assert_eq!(unique.len(), n, "duplicate ids at {n}");
            let gws: HashSet<&str> = l.gateways.iter().map(|g| g.id.as_str()).collect();
            assert_eq!(gws.len(), l.gateways.len());
            assert!(l.gateways.len() <= MAX_TANK_SITES + MAX_POLE_GATEWAYS);
        }
    }
}
