//! The chart window of the device view: 1m, 10m, 1h, 24h (`w`).

/// Chart window in the device view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Min1,
    Min10,
    Hour1,
    Day1,
}

impl Window {
    pub fn millis(self) -> i64 {
        match self {
            Window::Min1 => 60_000,
            Window::Min10 => 600_000,
            Window::Hour1 => 3_600_000,
            Window::Day1 => 86_400_000,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Window::Min1 => "1m",
            Window::Min10 => "10m",
            Window::Hour1 => "1h",
            Window::Day1 => "24h",
        }
    }
    pub(super) fn next(self) -> Window {
        match self {
            Window::Min1 => Window::Min10,
            Window::Min10 => Window::Hour1,
            Window::Hour1 => Window::Day1,
            Window::Day1 => Window::Min1,
        }
    }
}
