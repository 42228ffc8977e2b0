//! Built-in rules, on by default: device offline, device stale, decode errors, gateway
//! offline. Each is tuned (or turned off) by an `[[alert]]` with its name and no `when`.

use crate::expr::{EvalCtx, Truth, effective_status};
use crate::fleet::{Device, Status};
use crate::vocab::Severity;
use std::time::Duration;

/// A rule fleetop knows without configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// The device's own availability topic (LWT) says offline.
    DeviceOffline,
    /// No live message for twice its expected interval (counted from the broker
    /// reconnect, when that is later).
    DeviceStale,
    /// A payload failed to decode within the last `window_ms`.
    DecodeErrors { window_ms: i64 },
    /// The device is unreachable because its group's (gateway's) availability says
    /// offline.
    GatewayOffline,
}

/// What the decode-error rule needs beyond the device: when the device's error counter
/// last grew, as the alert book saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinFacts {
    pub decode_error_at: Option<i64>,
}

/// The default window of `decode_errors`.
pub const DECODE_WINDOW: Duration = Duration::from_secs(5 * 60);

impl Builtin {
    pub const NAMES: [&'static str; 4] = [
        "device_offline",
        "device_stale",
        "decode_errors",
        "gateway_offline",
    ];

    pub fn by_name(name: &str, window: Option<Duration>) -> Option<Builtin> {
        Some(match name {
            "device_offline" => Builtin::DeviceOffline,
            "device_stale" => Builtin::DeviceStale,
            "decode_errors" => Builtin::DecodeErrors {
                window_ms: ms(window.unwrap_or(DECODE_WINDOW)),
            },
            "gateway_offline" => Builtin::GatewayOffline,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Builtin::DeviceOffline => "device_offline",
            Builtin::DeviceStale => "device_stale",
            Builtin::DecodeErrors { .. } => "decode_errors",
            Builtin::GatewayOffline => "gateway_offline",
        }
    }

    pub fn default_severity(self) -> Severity {
        match self {
            Builtin::DeviceOffline => Severity::Major,
            Builtin::DeviceStale => Severity::Warning,
            Builtin::DecodeErrors { .. } => Severity::Warning,
            Builtin::GatewayOffline => Severity::Critical,
        }
    }

    /// A short grace for availability flaps (a device reconnecting posts offline, then
    /// online); staleness already waits two intervals, decode errors are facts.
    pub fn default_for(self) -> Duration {
        match self {
            Builtin::DeviceOffline | Builtin::GatewayOffline => Duration::from_secs(30),
            Builtin::DeviceStale | Builtin::DecodeErrors { .. } => Duration::ZERO,
        }
    }

    pub fn default_message(self) -> &'static str {
        match self {
            Builtin::DeviceOffline => "{device} is offline",
            Builtin::DeviceStale => "{device} sent nothing for {value}",
            Builtin::DecodeErrors { .. } => "{device} sends payloads that do not decode: {value}",
            Builtin::GatewayOffline => "{device} is unreachable: its gateway is offline",
        }
    }

    /// Offline, stale and gateway alerts are about liveness: the broker link going down
    /// inhibits them.
    pub fn is_liveness(self) -> bool {
        !matches!(self, Builtin::DecodeErrors { .. })
    }

    /// Whether the outcome can change with time alone (so a tick re-evaluates it).
    pub fn time_dependent(self) -> bool {
        matches!(self, Builtin::DeviceStale | Builtin::DecodeErrors { .. })
    }

    pub fn raise(self, d: &Device, ctx: &EvalCtx<'_>, facts: &BuiltinFacts) -> Truth {
        match self {
            Builtin::DeviceOffline => (d.available == Some(false)).into(),
            Builtin::DeviceStale => (effective_status(d, ctx) == Status::Stale).into(),
            Builtin::DecodeErrors { window_ms } => facts
                .decode_error_at
                .is_some_and(|t| ctx.now_ms.saturating_sub(t) < window_ms)
                .into(),
            Builtin::GatewayOffline => d.group_offline.into(),
        }
    }

    pub fn value_text(self, d: &Device, ctx: &EvalCtx<'_>) -> String {
        match self {
            Builtin::DeviceOffline => "offline".into(),
            Builtin::DeviceStale => {
                let live = ctx.blind.silence_from(
                    d.last_live_ms.unwrap_or(d.first_seen_ms),
                    d.stale_after_ms(),
                );
                crate::text::age(ctx.now_ms.saturating_sub(live))
            }
            Builtin::DecodeErrors { .. } => d.last_error.as_ref().map_or_else(
                || format!("{} errors", d.decode_errors),
                |e| crate::sanitize::truncate(&crate::sanitize::text(&e.message), 80).into_owned(),
            ),
            Builtin::GatewayOffline => "gateway offline".into(),
        }
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
