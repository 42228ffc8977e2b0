//! How bad an alert is. The five levels and their names are fixed: configs and scripts
//! (`fleetop check`, hooks) rely on them.

use serde::{Deserialize, Serialize};

/// Declared from least to most severe so that `Ord` puts `Critical` on top.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Minor,
    Major,
    Critical,
}

impl Severity {
    /// Most severe first, the order of the alert pane and of `check`'s summary.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Warning,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// Index into [`Severity::ALL`] (0 = critical), for count arrays.
    pub fn rank(self) -> usize {
        Severity::Critical as usize - self as usize
    }

    /// The Nagios plugin exit code a firing alert of this severity means:
    /// 2 for critical/major, 1 for minor/warning, 0 for info.
    pub fn nagios_code(self) -> u8 {
        match self {
            Severity::Critical | Severity::Major => 2,
            Severity::Minor | Severity::Warning => 1,
            Severity::Info => 0,
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown severity `{s}`: use critical, major, minor, warning or info")
            })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_ranks_first_and_maps_to_nagios_codes() {
        assert!(Severity::Critical > Severity::Major);
        assert_eq!(Severity::Critical.rank(), 0);
        assert_eq!(Severity::Info.rank(), 4);
        assert_eq!(Severity::ALL.map(Severity::nagios_code), [2, 2, 1, 1, 0]);
        assert_eq!("MAJOR".parse::<Severity>(), Ok(Severity::Major));
    }
}
