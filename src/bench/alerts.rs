//! The alert load for `fleetop bench ingest --rules N --devices D`: N rules over the
//! flood's metrics, in the mix a real config has (thresholds with hysteresis and `for`,
//! window functions, text comparisons, scopes by device glob), and the flood spread over D
//! devices, so the bench can say how much alert evaluation costs ingest.

/// The flood metrics the rules read, with a threshold each that the flood rarely crosses
/// (rules are evaluated on every message either way; firing is the exception).
const SHAPES: [&str; 10] = [
    "level_pct < {a}",
    "temp_c > 3{d}",
    "battery_v < 3.0{d}",
    "rssi < -10{d}",
    "avg(flow_lpm, 5m) > 4{d}",
    "delta(level_pct, 10m) < -2{d}",
    "pump == \\\"ON\\\" and flow_lpm < 0.0{d}",
    "rate(level_pct, 1m) > 1{d}",
    "max(temp_c, 1m) > 9{d}",
    "level_pct < {a} and battery_v < 3.{d}",
];

/// `[[alert]]` entries for `n` rules over the bench fleet `fleet`. Every third rule is
/// scoped to a tenth of the devices by a name glob, as per-site rules are.
pub fn rules_toml(n: usize, fleet: &str) -> String {
    let mut out = String::new();
    for i in 0..n {
        let shape = SHAPES[i % SHAPES.len()];
        let when = shape
            .replace("{a}", &(2 + i % 8).to_string())
            .replace("{d}", &(i % 10).to_string());
        out.push_str(&format!(
            "[[alert]]\nname = \"bench-{i:03}\"\nfleet = \"{fleet}\"\nwhen = \"{when}\"\n\
             for = \"{}s\"\nseverity = \"{}\"\n",
            (i % 4) * 30,
            ["critical", "major", "minor", "warning", "info"][i % 5],
        ));
        if i % 3 == 2 {
            out.push_str(&format!("device = \"tank-0{}*\"\n", i % 10));
        }
        if shape.starts_with("level_pct <") {
            out.push_str(&format!("clear = \"level_pct > {}\"\n", 10 + i % 8));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_rules_compile() {
        let text = format!(
            "[[fleet]]\nname = \"t\"\ntopic = \"b/{{device}}\"\nformat = \"json\"\n{}",
            super::rules_toml(100, "t")
        );
        let c = crate::config::Config::parse(&text, None).unwrap_or_else(|e| panic!("{}", e.0));
        // 100 rules plus the four built-ins.
        assert_eq!(
            crate::alerts::RuleSet::from_config(&c)
                .unwrap()
                .rules()
                .len(),
            104
        );
    }
}
