//! A Sparkplug metric's value as fleetop shows it: scalars as they are (integers beyond
//! 2^53 as exact text), templates, data sets, arrays and bytes unfolded or measured, so
//! nothing a node sends is dropped without a trace.

use super::proto::{self, datatype};
use crate::decode::Value;

/// Template instances nested deeper than this are not read (prost bounds decoding
/// itself); rows of a data set and items of an array shown, beyond which their count says
/// how many there are.
const MAX_TEMPLATE_DEPTH: usize = 4;
const MAX_DATASET_ROWS: usize = 8;
const MAX_ARRAY_ITEMS: usize = 32;
/// Integers beyond this are not exact as f64: they are shown as text, digit for digit.
const EXACT_INTEGER: u64 = 1 << 53;

/// Passes one metric's value to the sink, converted per its datatype, with its own time or
/// the payload's. Scalars are values; a template instance's metrics are shown under its
/// name (`motor/speed`), a data set as its row count and first rows' cells
/// (`table.rows`, `table.0.<column>`), numeric arrays as their items (`arr.0`), bytes and
/// files as their size (`blob.bytes`). Nulls carry no value.
pub(super) fn emit(
    hint: usize,
    name: &str,
    dt: u32,
    m: &proto::Metric,
    payload_ts: Option<u64>,
    sink: &mut impl FnMut(usize, &str, Value<'_>, Option<i64>),
) {
    emit_nested(hint, name, dt, m, payload_ts, 0, sink);
}

fn emit_nested(
    hint: usize,
    name: &str,
    dt: u32,
    m: &proto::Metric,
    payload_ts: Option<u64>,
    depth: usize,
    sink: &mut impl FnMut(usize, &str, Value<'_>, Option<i64>),
) {
    if m.is_null == Some(true) || name.is_empty() {
        return;
    }
    let at = m
        .timestamp
        .or(payload_ts)
        .and_then(|t| i64::try_from(t).ok());
    let exact;
    let value = match &m.value {
        Some(proto::Value::Int(v)) => Value::Number(match dt {
            datatype::INT8 => f64::from(*v as u8 as i8),
            datatype::INT16 => f64::from(*v as u16 as i16),
            datatype::INT32 => f64::from(*v as i32),
            _ => f64::from(*v),
        }),
        Some(proto::Value::Long(v)) => {
            let signed = dt == datatype::INT64;
            let magnitude = if signed {
                (*v as i64).unsigned_abs()
            } else {
                *v
            };
            if magnitude > EXACT_INTEGER {
                exact = if signed {
                    (*v as i64).to_string()
                } else {
                    v.to_string()
                };
                Value::Text(&exact)
            } else if signed {
                Value::Number(*v as i64 as f64)
            } else {
                Value::Number(*v as f64)
            }
        }
        Some(proto::Value::Float(v)) if v.is_finite() => Value::Number(f64::from(*v)),
        Some(proto::Value::Double(v)) if v.is_finite() => Value::Number(*v),
        Some(proto::Value::Boolean(b)) => Value::Bool(*b),
        Some(proto::Value::String(s)) => Value::Text(s),
        Some(proto::Value::Bytes(b)) => return emit_bytes(name, dt, b, at, sink),
        Some(proto::Value::DataSet(ds)) => return emit_dataset(name, ds, at, sink),
        Some(proto::Value::Template(t)) => {
            // A definition (in a birth) describes instances and holds no values.
            if t.is_definition == Some(true) || depth >= MAX_TEMPLATE_DEPTH {
                return;
            }
            for member in &t.metrics {
                let Some(member_name) = member.name.as_deref() else {
                    continue;
                };
                let full = format!("{name}/{member_name}");
                let dt = member.datatype.unwrap_or(0);
                emit_nested(usize::MAX, &full, dt, member, payload_ts, depth + 1, sink);
            }
            return;
        }
        _ => return,
    };
    sink(hint, name, value, at);
}

/// Numeric arrays (little-endian items, as the schema packs them) item by item; other
/// bytes by their size.
fn emit_bytes(
    name: &str,
    dt: u32,
    b: &[u8],
    at: Option<i64>,
    sink: &mut impl FnMut(usize, &str, Value<'_>, Option<i64>),
) {
    let width = match dt {
        22 | 26 => 1,
        23 | 27 => 2,
        24 | 28 | 30 => 4,
        25 | 29 | 31 => 8,
        _ => 0,
    };
    if width == 0 || b.len() % width != 0 {
        let n = b.len() as f64;
        return sink(usize::MAX, &format!("{name}.bytes"), Value::Number(n), at);
    }
    let items = b.len() / width;
    sink(
        usize::MAX,
        &format!("{name}.length"),
        Value::Number(items as f64),
        at,
    );
    for (i, item) in b.chunks_exact(width).take(MAX_ARRAY_ITEMS).enumerate() {
        let mut raw = [0u8; 8];
        raw[..width].copy_from_slice(item);
        let u = u64::from_le_bytes(raw);
        let v = match dt {
            22 => f64::from(u as u8 as i8),
            23 => f64::from(u as u16 as i16),
            24 => f64::from(u as u32 as i32),
            25 => u as i64 as f64,
            30 => f64::from(f32::from_bits(u as u32)),
            31 => f64::from_bits(u),
            _ => u as f64,
        };
        if v.is_finite() {
            sink(usize::MAX, &format!("{name}.{i}"), Value::Number(v), at);
        }
    }
}

fn emit_dataset(
    name: &str,
    ds: &proto::DataSet,
    at: Option<i64>,
    sink: &mut impl FnMut(usize, &str, Value<'_>, Option<i64>),
) {
    let rows = ds.rows.len() as f64;
    sink(usize::MAX, &format!("{name}.rows"), Value::Number(rows), at);
    for (r, row) in ds.rows.iter().take(MAX_DATASET_ROWS).enumerate() {
        for (c, cell) in row.elements.iter().enumerate() {
            let column = ds
                .columns
                .get(c)
                .map_or_else(|| c.to_string(), Clone::clone);
            let value = match &cell.value {
                Some(proto::CellValue::Int(v)) => Value::Number(f64::from(*v)),
                Some(proto::CellValue::Long(v)) => Value::Number(*v as f64),
                Some(proto::CellValue::Float(v)) if v.is_finite() => Value::Number(f64::from(*v)),
                Some(proto::CellValue::Double(v)) if v.is_finite() => Value::Number(*v),
                Some(proto::CellValue::Boolean(b)) => Value::Bool(*b),
                Some(proto::CellValue::String(s)) => Value::Text(s),
                _ => continue,
            };
            sink(usize::MAX, &format!("{name}.{r}.{column}"), value, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::Value as PValue;
    use super::super::tests::{metric, nbirth, payload, run};
    use super::super::{DeviceId, Sessions};
    use super::*;

    #[test]
    fn templates_datasets_arrays_and_bytes_are_shown_and_uint64_is_exact() {
        use super::proto::{CellValue, DataSet, DataSetValue, Row, Template};
        let mut s = Sessions::new(1000);
        let node = DeviceId(0);
        run(&mut s, "spBv1.0/g/NBIRTH/n", node, None, &nbirth(0));
        let motor = Template {
            version: None,
            metrics: vec![
                metric(
                    Some("speed"),
                    None,
                    datatype::DOUBLE,
                    PValue::Double(1500.0),
                ),
                metric(Some("on"), None, datatype::BOOLEAN, PValue::Boolean(true)),
            ],
            template_ref: Some("Motor".into()),
            is_definition: Some(false),
        };
        let table = DataSet {
            num_of_columns: Some(2),
            columns: vec!["id".into(), "name".into()],
            types: vec![datatype::INT32, datatype::STRING],
            rows: vec![Row {
                elements: vec![
                    DataSetValue {
                        value: Some(CellValue::Int(7)),
                    },
                    DataSetValue {
                        value: Some(CellValue::String("pump".into())),
                    },
                ],
            }],
        };
        let floats: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let (report, got) = run(
            &mut s,
            "spBv1.0/g/NDATA/n",
            node,
            None,
            &payload(
                Some(1),
                vec![
                    metric(
                        Some("m1"),
                        None,
                        datatype::TEMPLATE,
                        PValue::Template(motor),
                    ),
                    metric(
                        Some("table"),
                        None,
                        datatype::DATASET,
                        PValue::DataSet(table),
                    ),
                    metric(
                        Some("blob"),
                        None,
                        datatype::BYTES,
                        PValue::Bytes(vec![0; 1000]),
                    ),
                    metric(Some("arr"), None, 30, PValue::Bytes(floats)),
                    metric(
                        Some("big"),
                        None,
                        datatype::UINT64,
                        PValue::Long(u64::MAX - 1),
                    ),
                    metric(Some("small"), None, datatype::UINT64, PValue::Long(42)),
                    metric(
                        Some("neg"),
                        None,
                        datatype::INT64,
                        PValue::Long(-5i64 as u64),
                    ),
                ],
            ),
        );
        assert_eq!(report.error, None);
        assert_eq!(
            got,
            [
                "m1/speed=Number(1500.0)",
                "m1/on=Bool(true)",
                "table.rows=Number(1.0)",
                "table.0.id=Number(7.0)",
                "table.0.name=Text(\"pump\")",
                "blob.bytes=Number(1000.0)",
                "arr.length=Number(2.0)",
                "arr.0=Number(1.5)",
                "arr.1=Number(-2.0)",
                "big=Text(\"18446744073709551614\")",
                "small=Number(42.0)",
                "neg=Number(-5.0)",
            ]
        );
    }
}
