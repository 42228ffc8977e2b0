//! Which severity a metric's value is drawn in: the worst raised, unsilenced alert whose
//! rule reads it.

use super::tests::{book, feed};
use crate::fleet::testutil::device;
use crate::vocab::Severity;

const RULES: &str = r#"
[[alert]]
name = "low"
when = "level_pct < 15"
severity = "critical"
[[alert]]
name = "hot"
when = "temp > 30"
clear = "temp < 25 and level_pct > 0"
severity = "minor"
"#;

#[test]
fn a_metric_takes_the_severity_of_the_worst_raised_alert_that_reads_it() {
    let mut b = book(RULES);
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 50.0, 0);
    feed(&mut b, &mut d, "temp", 20.0, 0);
    assert_eq!(b.metric_severity(d.id, "level_pct"), None);
    feed(&mut b, &mut d, "temp", 40.0, 1_000);
    assert_eq!(b.metric_severity(d.id, "temp"), Some(Severity::Minor));
    // `hot`'s clear reads level_pct too.
    assert_eq!(b.metric_severity(d.id, "level_pct"), Some(Severity::Minor));
    feed(&mut b, &mut d, "level_pct", 5.0, 2_000);
    assert_eq!(
        b.metric_severity(d.id, "level_pct"),
        Some(Severity::Critical)
    );
    assert_eq!(b.metric_severity(d.id, "battery_v"), None);
    let req = crate::alerts::parse_silence_command("rule=low 1h refill")
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = b.silence(req, "ann@ops", 2_000);
    assert_eq!(
        b.metric_severity(d.id, "level_pct"),
        Some(Severity::Minor),
        "a silenced alert does not colour"
    );
}
