//! `fleetop check`'s verdict: a one-line summary naming the firing alerts' devices and a
//! Nagios-style exit code (0 OK, 1 warning, 2 critical). Code 3, "could not connect", is
//! the caller's to give, since only it knows.

use super::rules::RuleSet;
use super::state::AlertBook;
use crate::alerts::AlertState;
use std::time::Duration;

/// The longest `fleetop check` waits by default, whatever a rule's `for`: a cron check
/// that ran for many minutes would overlap the next run. Longer needs `--wait`.
pub const DEFAULT_WAIT_CAP: Duration = Duration::from_secs(120);
/// Time for the connection, the subscriptions and the broker's retained messages, before
/// the longest `for` starts to count.
const SETTLE: Duration = Duration::from_secs(2);

/// How long `check` collects when `--wait` is not given: long enough for every rule's
/// `for` to elapse on what arrives at once (a retained "offline" fires `device_offline`
/// after its 30 s), capped at [`DEFAULT_WAIT_CAP`].
pub fn default_wait(rules: &RuleSet) -> Duration {
    let longest = rules.rules().iter().map(|r| r.for_ms).max().unwrap_or(0);
    let longest = Duration::from_millis(u64::try_from(longest).unwrap_or(0));
    (longest + SETTLE).min(DEFAULT_WAIT_CAP)
}

/// The summary line and exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSummary {
    pub code: u8,
    pub line: String,
}

/// Devices named in the line before it says "+N more".
const MAX_NAMED: usize = 10;

/// Judges the raised alerts that are neither silenced nor inhibited.
pub fn check_summary(book: &AlertBook) -> CheckSummary {
    let raised: Vec<_> = book
        .active()
        .into_iter()
        .filter(|a| book.counts_as_raised(a))
        .collect();
    let code = raised
        .iter()
        .map(|a| a.severity.nagios_code())
        .max()
        .unwrap_or(0);
    let word = match code {
        2 => "CRITICAL",
        1 => "WARNING",
        _ => "OK",
    };
    let counts = book.counts();
    let perf = crate::vocab::Severity::ALL
        .iter()
        .map(|s| format!("{}={}", s.as_str(), counts[s.rank()]))
        .collect::<Vec<_>>()
        .join(" ");
    let mut line = format!("FLEETOP {word} - ");
    if raised.is_empty() {
        line.push_str("no alerts firing");
    } else {
        line.push_str(&format!("{} firing: ", raised.len()));
        let named: Vec<String> = raised
            .iter()
            .take(MAX_NAMED)
            .map(|a| format!("{} {} ({})", a.device_name, a.rule_name, a.severity))
            .collect();
        line.push_str(&named.join(", "));
        if raised.len() > MAX_NAMED {
            line.push_str(&format!(", +{} more", raised.len() - MAX_NAMED));
        }
    }
    // Pending alerts are not judged yet; saying so keeps a short --wait from reading as OK.
    let pending = book
        .active()
        .iter()
        .filter(|a| a.state == AlertState::Pending && !a.inhibited)
        .count();
    if pending > 0 {
        line.push_str(&format!(
            "; {pending} pending (their `for` outlasted the wait)"
        ));
    }
    line.push_str(" | ");
    line.push_str(&perf);
    CheckSummary { code, line }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn rules(toml_text: &str) -> RuleSet {
        let c = Config::parse(toml_text, None).expect("config parses");
        RuleSet::from_config(&c).expect("rules compile")
    }

    #[test]
    fn the_default_wait_outlasts_the_longest_for_within_a_cap() {
        let fleet = "[[fleet]]\nname = \"tanks\"\ntopic = \"t/{device}\"\n";
        // The built-in device_offline and gateway_offline wait 30 s.
        assert_eq!(default_wait(&rules(fleet)), Duration::from_secs(32));
        let slow =
            format!("{fleet}[[alert]]\nname = \"low\"\nwhen = \"level < 5\"\nfor = \"90s\"\n");
        assert_eq!(default_wait(&rules(&slow)), Duration::from_secs(92));
        let slower =
            format!("{fleet}[[alert]]\nname = \"low\"\nwhen = \"level < 5\"\nfor = \"1h\"\n");
        assert_eq!(default_wait(&rules(&slower)), DEFAULT_WAIT_CAP);
        let quick = format!(
            "{fleet}[[alert]]\nname = \"device_offline\"\nfor = \"5s\"\n\
             [[alert]]\nname = \"gateway_offline\"\nenabled = false\n"
        );
        assert_eq!(default_wait(&rules(&quick)), Duration::from_secs(7));
    }
}
