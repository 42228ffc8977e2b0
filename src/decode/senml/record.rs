//! SenML records as they arrive: the labels of RFC 8428 in JSON (`"bn"`, `"v"`...) and
//! their integer forms in CBOR (section 6: bn = -2, v = 2...), read through one serde
//! deserializer, with the number of records bounded while reading.

use super::MAX_RECORDS;
use crate::decode::DecodeError;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One record's fields, unresolved.
#[derive(Debug, Default)]
pub(super) struct RawRecord {
    pub bn: Option<String>,
    pub bt: Option<f64>,
    pub bu: Option<String>,
    pub bv: Option<f64>,
    pub bs: Option<f64>,
    pub bver: Option<f64>,
    pub n: Option<String>,
    pub u: Option<String>,
    pub v: Option<f64>,
    pub vs: Option<String>,
    pub vb: Option<bool>,
    pub vd: Option<Data>,
    pub s: Option<f64>,
    pub t: Option<f64>,
    /// A label ending in `_` (must-understand, RFC 8428 4.4): the pack is refused.
    pub must_understand: Option<String>,
}

/// `vd`: base64 text in JSON, a byte string in CBOR.
#[derive(Debug)]
pub(super) enum Data {
    Text(String),
    Bytes(Vec<u8>),
}

pub(super) fn read_json(payload: &[u8]) -> Result<Vec<RawRecord>, DecodeError> {
    serde_json::from_slice::<RawPack>(payload)
        .map(|p| p.0)
        .map_err(|e| DecodeError::Senml(e.to_string()))
}

pub(super) fn read_cbor(payload: &[u8]) -> Result<Vec<RawRecord>, DecodeError> {
    // A record is two levels deep: anything deeper is not SenML.
    ciborium::de::from_reader_with_recursion_limit::<RawPack, _>(payload, 8)
        .map(|p| p.0)
        .map_err(|e| DecodeError::Senml(crate::decode::cbor::describe(&e)))
}

/// A pack's records, refused past [`MAX_RECORDS`] while reading.
struct RawPack(Vec<RawRecord>);

impl<'de> de::Deserialize<'de> for RawPack {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawPack, D::Error> {
        d.deserialize_seq(PackVisitor)
    }
}

struct PackVisitor;

impl<'de> Visitor<'de> for PackVisitor {
    type Value = RawPack;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML pack (an array of records)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPack, A::Error> {
        let mut records = Vec::new();
        while let Some(r) = seq.next_element_seed(RecordSeed)? {
            if records.len() >= MAX_RECORDS {
                return Err(de::Error::custom(format!(
                    "more than {MAX_RECORDS} records in one pack"
                )));
            }
            records.push(r);
        }
        Ok(RawPack(records))
    }
}

struct RecordSeed;

impl<'de> de::DeserializeSeed<'de> for RecordSeed {
    type Value = RawRecord;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawRecord, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RawRecord;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML record (a map)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRecord, A::Error> {
        let mut r = RawRecord::default();
        while let Some(label) = map.next_key::<Label>()? {
            match label {
                Label::Bn => r.bn = Some(map.next_value()?),
                Label::Bt => r.bt = Some(map.next_value::<Number>()?.0),
                Label::Bu => r.bu = Some(map.next_value()?),
                Label::Bv => r.bv = Some(map.next_value::<Number>()?.0),
                Label::Bs => r.bs = Some(map.next_value::<Number>()?.0),
                Label::Bver => r.bver = Some(map.next_value::<Number>()?.0),
                Label::N => r.n = Some(map.next_value()?),
                Label::U => r.u = Some(map.next_value()?),
                Label::V => r.v = Some(map.next_value::<Number>()?.0),
                Label::Vs => r.vs = Some(map.next_value()?),
                Label::Vb => r.vb = Some(map.next_value()?),
                Label::Vd => r.vd = Some(map.next_value::<DataValue>()?.0),
                Label::S => r.s = Some(map.next_value::<Number>()?.0),
                Label::T => r.t = Some(map.next_value::<Number>()?.0),
                Label::MustUnderstand(name) => {
                    map.next_value::<IgnoredAny>()?;
                    r.must_understand.get_or_insert(name);
                }
                // `ut` (update time) and labels of extensions: not used.
                Label::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

enum Label {
    Bn,
    Bt,
    Bu,
    Bv,
    Bs,
    Bver,
    N,
    U,
    V,
    Vs,
    Vb,
    Vd,
    S,
    T,
    MustUnderstand(String),
    Other,
}

impl<'de> de::Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Label, D::Error> {
        d.deserialize_any(LabelVisitor)
    }
}

struct LabelVisitor;

impl Visitor<'_> for LabelVisitor {
    type Value = Label;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML label (text, or an integer in CBOR)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Label, E> {
        Ok(match v {
            "bn" => Label::Bn,
            "bt" => Label::Bt,
            "bu" => Label::Bu,
            "bv" => Label::Bv,
            "bs" => Label::Bs,
            "bver" => Label::Bver,
            "n" => Label::N,
            "u" => Label::U,
            "v" => Label::V,
            "vs" => Label::Vs,
            "vb" => Label::Vb,
            "vd" => Label::Vd,
            "s" => Label::S,
            "t" => Label::T,
            other if other.ends_with('_') => Label::MustUnderstand(other.into()),
            _ => Label::Other,
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Label, E> {
        Ok(match v {
            -1 => Label::Bver,
            -2 => Label::Bn,
            -3 => Label::Bt,
            -4 => Label::Bu,
            -5 => Label::Bv,
            -6 => Label::Bs,
            0 => Label::N,
            1 => Label::U,
            2 => Label::V,
            3 => Label::Vs,
            4 => Label::Vb,
            5 => Label::S,
            6 => Label::T,
            8 => Label::Vd,
            // 7 is `ut`; others belong to extensions (negative ones below -255 too).
            _ => Label::Other,
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Label, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Label, E> {
        Ok(Label::Other)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Label, E> {
        Ok(Label::Other)
    }
}

struct DataValue(Data);

impl<'de> de::Deserialize<'de> for DataValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DataValue, D::Error> {
        d.deserialize_any(DataVisitor)
    }
}

struct DataVisitor;

impl Visitor<'_> for DataVisitor {
    type Value = DataValue;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("data (base64 text, or a CBOR byte string)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<DataValue, E> {
        Ok(DataValue(Data::Text(v.into())))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<DataValue, E> {
        Ok(DataValue(Data::Bytes(v.into())))
    }
}

/// A number, whether the encoder wrote it as an integer or a float (CBOR encoders write
/// `10` as an integer; ciborium will not read that as an `f64` on its own).
struct Number(f64);

impl<'de> de::Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Number;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        Ok(Number(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number(v as f64))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Number, E> {
        Ok(Number(v as f64))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Number, E> {
        Ok(Number(v as f64))
    }
}
