//! SenML (RFC 8428) packs in JSON or CBOR, resolved per section 4.6: each record's base
//! fields (`bn`, `bt`, `bu`, `bv`, `bs`, `bver`) apply to it and to the records after it
//! until changed; a record's name is base name + `n`, its unit `u` or the base unit, its
//! value `v` (plus the base value), `vs`, `vb` or `vd`, its sum `s` (plus the base sum),
//! its time the base time + `t`, where a time below 2^28 is relative to now (section
//! 4.5.3).
//!
//! A pack is untrusted: at most [`MAX_RECORDS`] records, names checked against the
//! section 4.5.1 alphabet (so no escape sequence gets in) and at most [`MAX_NAME`]
//! characters, must-understand labels (ending in `_`) refused, versions newer than 10
//! refused. One bad record makes the whole pack invalid, as the RFC says.

mod record;

use super::{DecodeError, Value, timestamp};
use record::{Data, RawRecord};

/// Most records read from one pack.
pub const MAX_RECORDS: usize = 4096;
/// Longest resolved name, in bytes.
pub const MAX_NAME: usize = 256;
/// The SenML version fleetop reads (RFC 8428's).
const VERSION: f64 = 10.0;
/// Times below this are relative to now (seconds).
const RELATIVE_BELOW: f64 = (1u64 << 28) as f64;

/// A decoded pack; reused between messages.
#[derive(Debug, Default)]
pub struct Pack {
    text: String,
    records: Vec<Record>,
}

type Span = (u32, u32);

#[derive(Debug, Clone, Copy)]
struct Record {
    base: Span,
    own: Span,
    unit: Option<Span>,
    value: Option<Stored>,
    sum: Option<f64>,
    time_ms: i64,
    timed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Stored {
    Number(f64),
    Bool(bool),
    Text(Span),
}

/// One resolved record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// The base name in force for this record (may be empty).
    pub base_name: &'a str,
    /// The record's own `n` (may be empty).
    pub own_name: &'a str,
    /// Its unit: `u`, else the base unit.
    pub unit: Option<&'a str>,
    /// `v`/`vs`/`vb`/`vd`; `None` for a record that carries only a sum.
    pub value: Option<Value<'a>>,
    pub sum: Option<f64>,
    /// Epoch milliseconds.
    pub time_ms: i64,
    /// Whether the pack gave this record a time (`bt` or `t`); otherwise `time_ms` is
    /// the arrival ("roughly now", RFC 8428 4.5.3).
    pub timed: bool,
}

impl Resolved<'_> {
    /// Which device and metric this record is about (see [`device_and_metric`]).
    pub fn device_and_metric(&self) -> (Option<&str>, &str) {
        device_and_metric(self.base_name, self.own_name, self.unit)
    }
}

impl Pack {
    /// The resolved records, in pack order.
    pub fn records(&self) -> impl Iterator<Item = Resolved<'_>> {
        let text = |(a, b): Span| &self.text[a as usize..b as usize];
        self.records.iter().map(move |r| Resolved {
            base_name: text(r.base),
            own_name: text(r.own),
            unit: r.unit.map(text),
            value: r.value.map(|v| match v {
                Stored::Number(n) => Value::Number(n),
                Stored::Bool(b) => Value::Bool(b),
                Stored::Text(s) => Value::Text(text(s)),
            }),
            sum: r.sum,
            time_ms: r.time_ms,
            timed: r.timed,
        })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn push_text(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, self.text.len() as u32)
    }
}

/// Whether a payload looks like a SenML pack (an array of records, JSON or CBOR), to try
/// it as one: a cheap look at the first bytes.
pub fn looks_like(payload: &[u8]) -> bool {
    let json = payload.trim_ascii_start();
    match json.first() {
        Some(b'[') => json[1..].trim_ascii_start().starts_with(b"{"),
        // A CBOR array (major type 4) whose first item is a map (major type 5).
        Some(0x81..=0x9f) => payload.iter().skip_while(|&&b| b == 0x9f).nth(1).is_some(),
        _ => false,
    }
}

/// Decodes and resolves a pack (JSON if it starts with `[` or `{`, else CBOR) received
/// at `now_ms`.
pub fn decode(payload: &[u8], now_ms: i64, pack: &mut Pack) -> Result<(), DecodeError> {
    pack.text.clear();
    pack.records.clear();
    let raw = if matches!(payload.trim_ascii_start().first(), Some(b'[' | b'{')) {
        record::read_json(payload)?
    } else {
        record::read_cbor(payload)?
    };
    let resolved = resolve(&raw, now_ms, pack);
    if resolved.is_err() {
        pack.text.clear();
        pack.records.clear();
    }
    resolved?;
    if pack.records.is_empty() {
        return Err(DecodeError::NoValues);
    }
    Ok(())
}

/// RFC 8428 section 4.6, record by record.
fn resolve(raw: &[RawRecord], now_ms: i64, pack: &mut Pack) -> Result<(), DecodeError> {
    let mut base = pack.push_text("");
    let (mut base_time, mut base_value, mut base_sum) = (0.0, 0.0, 0.0);
    let mut base_unit: Option<Span> = None;
    let mut base_timed = false;
    for (i, r) in raw.iter().enumerate() {
        let bad = |why: String| DecodeError::Senml(format!("record {}: {why}", i + 1));
        if let Some(label) = &r.must_understand {
            return Err(bad(format!(
                "must-understand label `{}` is not one fleetop knows",
                crate::sanitize::truncate(&crate::sanitize::text(label), 40)
            )));
        }
        if let Some(v) = r.bver
            && v > VERSION
        {
            return Err(bad(format!(
                "version {v} is newer than the {VERSION} fleetop reads"
            )));
        }
        if let Some(bn) = &r.bn {
            base = pack.push_text(bn);
        }
        if let Some(bu) = &r.bu {
            base_unit = Some(pack.push_text(bu));
        }
        base_time = r.bt.unwrap_or(base_time);
        base_timed |= r.bt.is_some();
        base_value = r.bv.unwrap_or(base_value);
        base_sum = r.bs.unwrap_or(base_sum);
        let value = match (&r.v, &r.vs, &r.vb, &r.vd) {
            (Some(v), None, None, None) => Some(Stored::Number(base_value + v)),
            (None, Some(s), None, None) => Some(Stored::Text(pack.push_text(s))),
            (None, None, Some(b), None) => Some(Stored::Bool(*b)),
            (None, None, None, Some(d)) => Some(Stored::Text(match d {
                Data::Text(t) => pack.push_text(t),
                Data::Bytes(b) => {
                    let mut hex = String::new();
                    super::nest::hex_text(b, &mut hex);
                    pack.push_text(&hex)
                }
            })),
            (None, None, None, None) => None,
            _ => return Err(bad("more than one of v, vs, vb and vd".into())),
        };
        let sum = r.s.map(|s| base_sum + s);
        if value.is_none() && sum.is_none() {
            // A record of base fields only, for the records after it.
            if r.n.is_some() {
                return Err(bad("a name with neither a value nor a sum".into()));
            }
            continue;
        }
        let own = pack.push_text(r.n.as_deref().unwrap_or(""));
        let name_len = (base.1 - base.0) + (own.1 - own.0);
        let name = || {
            let text = &pack.text;
            format!(
                "{}{}",
                &text[base.0 as usize..base.1 as usize],
                &text[own.0 as usize..own.1 as usize]
            )
        };
        if name_len as usize > MAX_NAME {
            return Err(bad(format!(
                "a name of {name_len} bytes (at most {MAX_NAME})"
            )));
        }
        let (base_text, own_text) = (
            &pack.text[base.0 as usize..base.1 as usize],
            &pack.text[own.0 as usize..own.1 as usize],
        );
        if !valid_name(base_text, own_text) {
            return Err(bad(format!(
                "`{}` is not a SenML name (RFC 8428 4.5.1: letters, digits and - : . / _, \
                 starting with a letter or digit)",
                crate::sanitize::truncate(&crate::sanitize::text(&name()), 60)
            )));
        }
        let numbers = [base_value, base_sum, base_time, r.t.unwrap_or(0.0)];
        if numbers.iter().chain(&sum).any(|n| !n.is_finite())
            || matches!(value, Some(Stored::Number(n)) if !n.is_finite())
        {
            return Err(DecodeError::NotFinite(format!("record {}", i + 1)));
        }
        let unit = r.u.as_deref().map(|u| pack.push_text(u)).or(base_unit);
        pack.records.push(Record {
            base,
            own,
            unit,
            value,
            sum,
            time_ms: time_ms(base_time + r.t.unwrap_or(0.0), now_ms),
            timed: base_timed || r.t.is_some(),
        });
    }
    Ok(())
}

/// A resolved SenML time (seconds) as epoch milliseconds: below 2^28 it is relative to
/// `now_ms`; an absolute time outside 2000..2100 (a dead clock) is taken as now.
fn time_ms(seconds: f64, now_ms: i64) -> i64 {
    if seconds < RELATIVE_BELOW {
        return now_ms.saturating_add((seconds * 1000.0) as i64);
    }
    timestamp::from_epoch_number((seconds * 1000.0).round()).unwrap_or(now_ms)
}

/// A unit short enough and plain enough (printable ASCII, no spaces) to name a metric.
fn unit_names_metric(unit: &str) -> bool {
    (1..=16).contains(&unit.len()) && unit.bytes().all(|b| b.is_ascii_graphic())
}

/// RFC 8428 4.5.1: `[A-Za-z0-9][A-Za-z0-9:./_-]*`, for the name `base` + `own`.
fn valid_name(base: &str, own: &str) -> bool {
    let mut bytes = base.bytes().chain(own.bytes());
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'/' | b'_'))
}

/// Which device a record is about, and its metric: the base name (less a trailing
/// separator) is the device and `n` the metric, as the RFC's examples use them
/// (`urn:dev:ow:10e2073a01080063:` + `temp`); with no base name, a name in the device-id
/// URN form of RFC 9039 (`urn:dev:<type>:<id>`, then `_` or `:` and a component) names
/// its device. Otherwise the device is the topic's (`None`) and the metric the full name.
///
/// A record with no name of its own is named by its unit: RFC 8428 5.1.4 tells a
/// device's humidity, `lat` and `lon` apart by unit alone. With no unit either (or one
/// that cannot name a metric) it is `value`.
pub fn device_and_metric<'a>(
    base_name: &'a str,
    own_name: &'a str,
    unit: Option<&'a str>,
) -> (Option<&'a str>, &'a str) {
    let unnamed = unit.filter(|u| unit_names_metric(u)).unwrap_or("value");
    let or_value = |m: &'a str| if m.is_empty() { unnamed } else { m };
    let device = base_name.trim_end_matches([':', '/', '.', '_', '-']);
    if !device.is_empty() {
        return (Some(device), or_value(own_name));
    }
    // A base name of separators only adds nothing a device could be named by.
    let name = own_name;
    if let Some(rest) = name.strip_prefix("urn:dev:")
        && let Some((kind, id)) = rest.split_once(':')
        && !kind.is_empty()
    {
        let (id, component) = id.split_once(['_', ':']).unwrap_or((id, ""));
        if !id.is_empty() {
            let device = &name[..8 + kind.len() + 1 + id.len()];
            return (Some(device), or_value(component));
        }
    }
    (None, or_value(name))
}

#[cfg(test)]
mod tests;
