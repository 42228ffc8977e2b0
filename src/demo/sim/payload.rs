//! Writing payloads, with the scheduled sensor faults applied on the way out.
//!
//! Models write plain readings; [`Effects`] turns them into what a faulty sensor would send
//! (a frozen value, a creeping offset, a one-off spike, a truncated message). Keeping faults
//! here means each fleet model stays a description of healthy physics.

use std::fmt::Write as _;

/// One message ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Msg {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
}

/// A sensor fault active on one device, keyed by metric path (`level_pct`, `air.temp_c`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Effects {
    /// Flat line: the first value written after the fault began, repeated until `until_ms`.
    stuck: Option<(&'static str, Option<f64>, u64)>,
    /// Offset growing by `per_s` per simulated second since `since_ms`, until `until_ms`.
    drift: Option<(&'static str, f64, u64, u64)>,
    /// Replaces the next value of the metric, once.
    spike: Option<(&'static str, f64)>,
    /// Truncates the next message, once.
    malformed: bool,
}

impl Effects {
    pub fn stick(&mut self, metric: &'static str, until_ms: u64) {
        self.stuck = Some((metric, None, until_ms));
    }

    pub fn drift(&mut self, metric: &'static str, per_s: f64, now_ms: u64, until_ms: u64) {
        self.drift = Some((metric, per_s, now_ms, until_ms));
    }

    pub fn spike(&mut self, metric: &'static str, value: f64) {
        self.spike = Some((metric, value));
    }

    pub fn malform(&mut self) {
        self.malformed = true;
    }

    /// True when no fault could change a value: the writer then skips path bookkeeping.
    fn quiet(&self) -> bool {
        self.stuck.is_none() && self.drift.is_none() && self.spike.is_none()
    }

    /// Ends faults whose time is up (the sensor was "repaired").
    pub fn expire(&mut self, now_ms: u64) {
        if self.stuck.is_some_and(|(_, _, until)| now_ms >= until) {
            self.stuck = None;
        }
        if self.drift.is_some_and(|(_, _, _, until)| now_ms >= until) {
            self.drift = None;
        }
    }

    /// The value a faulty sensor reports for `path` instead of `v`.
    fn apply(&mut self, path: &str, v: f64, now_ms: u64) -> f64 {
        if let Some((metric, value)) = self.spike
            && metric == path
        {
            self.spike = None;
            return value;
        }
        let mut v = v;
        if let Some((metric, per_s, since, _)) = self.drift
            && metric == path
        {
            v += per_s * now_ms.saturating_sub(since) as f64 / 1000.0;
        }
        if let Some((metric, frozen, _)) = &mut self.stuck
            && *metric == path
        {
            v = *frozen.get_or_insert(v);
        }
        v
    }

    /// Takes the one-shot "send garbage" flag.
    pub fn take_malformed(&mut self) -> bool {
        std::mem::take(&mut self.malformed)
    }
}

/// Writes one JSON object without serde: the simulator formats tens of thousands a second.
pub(crate) struct Json<'a> {
    buf: String,
    fx: &'a mut Effects,
    now_ms: u64,
    /// Dotted path of the enclosing objects, kept only when a fault could match.
    path: String,
    first: bool,
}

impl<'a> Json<'a> {
    pub fn new(fx: &'a mut Effects, now_ms: u64) -> Json<'a> {
        let mut buf = String::with_capacity(256);
        buf.push('{');
        Json {
            buf,
            fx,
            now_ms,
            path: String::new(),
            first: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push('"');
        self.buf.push_str(key);
        self.buf.push_str("\":");
    }

    /// A number with `dp` decimals; non-finite values are written as 0 (JSON has no NaN).
    pub fn num(&mut self, key: &str, v: f64, dp: usize) -> &mut Self {
        let v = if self.fx.quiet() {
            v
        } else {
            let len = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(key);
            let v = self.fx.apply(&self.path, v, self.now_ms);
            self.path.truncate(len);
            v
        };
        self.key(key);
        let v = if v.is_finite() { v } else { 0.0 };
        let _ = write!(self.buf, "{v:.dp$}");
        self
    }

    pub fn int(&mut self, key: &str, v: i64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{v}");
        self
    }

    pub fn boolean(&mut self, key: &str, v: bool) -> &mut Self {
        self.key(key);
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    /// A string value; callers pass fixed words (`ON`, `parked`), never device input.
    pub fn word(&mut self, key: &str, v: &str) -> &mut Self {
        self.key(key);
        self.buf.push('"');
        self.buf.push_str(v);
        self.buf.push('"');
        self
    }

    pub fn open(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push('{');
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        self.first = true;
        self
    }

    pub fn close(&mut self) -> &mut Self {
        self.buf.push('}');
        let cut = self.path.rfind('.').unwrap_or(0);
        self.path.truncate(cut);
        self.first = false;
        self
    }

    /// The finished object, or a truncated one if a malformed message was scheduled.
    pub fn finish(mut self) -> String {
        self.buf.push('}');
        if self.fx.take_malformed() {
            // Cut mid-message, the way a modem reset or a full buffer cuts it.
            let cut = (self.buf.len() * 3 / 5).max(1);
            let cut = (0..=cut)
                .rev()
                .find(|&i| self.buf.is_char_boundary(i))
                .unwrap_or(0);
            self.buf.truncate(cut);
        }
        self.buf
    }
}

/// A single-value payload (the poles' one-topic-per-sensor style), faults applied.
pub(crate) fn number(fx: &mut Effects, metric: &str, v: f64, dp: usize, now_ms: u64) -> String {
    let v = fx.apply(metric, v, now_ms);
    let v = if v.is_finite() { v } else { 0.0 };
    if fx.take_malformed() {
        // A firmware update that starts wrapping the value in JSON, cut short: fleetop
        // counts it as a payload that does not decode.
        return format!("{{\"value\":{v:.dp$}");
    }
    format!("{v:.dp$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_json_and_applies_faults_by_path() {
        let mut fx = Effects::default();
        fx.spike("air.temp_c", 85.0);
        fx.stick("battery_v", 10_000);
        let mut j = Json::new(&mut fx, 0);
        j.open("air").num("temp_c", 12.34, 1).close();
        j.num("battery_v", 3.91, 2)
            .word("pump", "ON")
            .boolean("overflow", false);
        assert_eq!(
            j.finish(),
            r#"{"air":{"temp_c":85.0},"battery_v":3.91,"pump":"ON","overflow":false}"#
        );
        // The spike was one-off; the stuck value stays while the fault lasts.
        let mut j = Json::new(&mut fx, 5_000);
        j.open("air")
            .num("temp_c", 12.5, 1)
            .close()
            .num("battery_v", 3.5, 2);
        assert_eq!(j.finish(), r#"{"air":{"temp_c":12.5},"battery_v":3.91}"#);
        fx.expire(10_000);
        let mut j = Json::new(&mut fx, 10_000);
        j.num("battery_v", 3.5, 2);
        assert_eq!(j.finish(), r#"{"battery_v":3.50}"#);
    }

    #[test]
    fn drift_grows_with_time_and_malformed_truncates_once() {
        let mut fx = Effects::default();
        fx.drift("t", 0.5, 1_000, 100_000);
        let mut j = Json::new(&mut fx, 11_000);
        j.num("t", 90.0, 1);
        assert_eq!(j.finish(), r#"{"t":95.0}"#);
        fx.malform();
        let mut j = Json::new(&mut fx, 11_000);
        j.num("a", 1.0, 1).num("b", 2.0, 1);
        let s = j.finish();
        assert!(
            serde_json::from_str::<serde_json::Value>(&s).is_err(),
            "{s}"
        );
        let mut j = Json::new(&mut fx, 11_000);
        j.num("a", 1.0, 1);
        assert!(serde_json::from_str::<serde_json::Value>(&j.finish()).is_ok());
        fx.malform();
        assert!(number(&mut fx, "pm10", 3.0, 1, 0).parse::<f64>().is_err());
    }
}
