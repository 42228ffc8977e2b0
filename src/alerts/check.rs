//! `fleetop check`'s verdict: a one-line summary naming the firing alerts' devices and a
//! Nagios-style exit code (0 OK, 1 warning, 2 critical). Code 3, "could not connect", is
//! the caller's to give, since only it knows.

use super::state::AlertBook;

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
    line.push_str(" | ");
    line.push_str(&perf);
    CheckSummary { code, line }
}
