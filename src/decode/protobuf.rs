//! Protocol Buffers payloads, read with a message type from the user's `.proto`, compiled
//! at start by protox (no protoc to install). Fields become metrics by name the way JSON
//! keys do (nested messages joined with dots, repeated fields by index, map entries by
//! key); enum values show by name, bytes as bounded hex, and a `google.protobuf.Timestamp`
//! is epoch seconds (the sample time under a top-level `ts`, `time` or `timestamp`).
//!
//! Bytes that do not match the message are a decode error, never a crash: prost bounds
//! the nesting (100 levels) and checks every length against the payload.

use super::nest;
use super::{DecodeError, Leaf, Scratch};
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};
use std::path::Path;

/// Message types listed when `message` names none of the file's.
const MAX_LISTED: usize = 12;

/// Compiles `proto_file` (with the files it imports, found beside it) and finds `message`.
/// Errors say which file and line, and what to do.
pub fn compile(proto_file: &Path, message: &str) -> Result<MessageDescriptor, String> {
    let dir = proto_file.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let Some(name) = proto_file.file_name() else {
        return Err(format!("`{}` is not a file", proto_file.display()));
    };
    if let Err(e) = std::fs::metadata(proto_file) {
        return Err(format!(
            "cannot read {}: {e}; check the path (relative to the config file)",
            proto_file.display()
        ));
    }
    let pool = protox::Compiler::new([dir])
        .and_then(|mut c| {
            c.include_imports(true).open_file(name)?;
            Ok(c.descriptor_pool())
        })
        .map_err(|e| compile_error(&e, dir, proto_file))?;
    find_message(&pool, message, proto_file)
}

fn find_message(
    pool: &DescriptorPool,
    message: &str,
    proto_file: &Path,
) -> Result<MessageDescriptor, String> {
    let wanted = message.trim_start_matches('.');
    if let Some(m) = pool.get_message_by_name(wanted) {
        return Ok(m);
    }
    let known: Vec<String> = pool
        .all_messages()
        .filter(|m| !m.full_name().starts_with("google.protobuf."))
        .map(|m| m.full_name().to_string())
        .collect();
    let listed = known.iter().take(MAX_LISTED).cloned().collect::<Vec<_>>();
    Err(format!(
        "{} defines no message `{message}`; set message to one of: {}{} (the full name, with \
         its package)",
        proto_file.display(),
        listed.join(", "),
        if known.len() > MAX_LISTED {
            ", …"
        } else {
            ""
        }
    ))
}

/// A protox error as `file:line:column: what`, with what to do.
fn compile_error(e: &protox::Error, dir: &Path, proto_file: &Path) -> String {
    use miette::Diagnostic as _;
    let file = e.file().map(|f| dir.join(f));
    let file = file.as_deref().unwrap_or(proto_file);
    let offset = e.labels().and_then(|mut l| l.next()).map(|l| l.offset());
    let place = match offset.zip(std::fs::read_to_string(file).ok()) {
        Some((offset, text)) => {
            let upto = &text[..offset.min(text.len())];
            let line = upto.matches('\n').count() + 1;
            let column = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{}:{line}:{column}", file.display())
        }
        None => file.display().to_string(),
    };
    let what_to_do = if e.is_file_not_found() || e.is_io() {
        "check the path (relative to the config file; imports are looked up beside the .proto)"
    } else {
        "fix the .proto (protoc would refuse it too)"
    };
    let help = e.help().map(|h| format!(" ({h})")).unwrap_or_default();
    format!("{place}: {e}{help}; {what_to_do}")
}

/// Decodes a payload as `message` and appends its fields' leaves to `scratch`.
pub fn decode(
    payload: &[u8],
    message: &MessageDescriptor,
    scratch: &mut Scratch,
) -> Result<(), DecodeError> {
    let msg = DynamicMessage::decode(message.clone(), payload).map_err(|e| {
        DecodeError::Binary(format!(
            "not a {} protobuf message: {e}",
            message.full_name()
        ))
    })?;
    walk_message(&msg, scratch);
    Ok(())
}

fn walk_message(msg: &DynamicMessage, scratch: &mut Scratch) {
    if let Some(seconds) = timestamp_seconds(msg) {
        scratch.push(Leaf::Number(seconds));
        return;
    }
    let base = scratch.path.len();
    for (field, value) in msg.fields() {
        nest::enter_key(&mut scratch.path, base, field.name());
        walk(value, &field.kind(), scratch);
    }
    scratch.path.truncate(base);
}

fn walk(value: &Value, kind: &Kind, scratch: &mut Scratch) {
    match value {
        Value::Bool(b) => scratch.push(Leaf::Bool(*b)),
        Value::I32(n) => scratch.push(Leaf::Number(f64::from(*n))),
        Value::I64(n) => scratch.push(Leaf::Number(*n as f64)),
        Value::U32(n) => scratch.push(Leaf::Number(f64::from(*n))),
        Value::U64(n) => scratch.push(Leaf::Number(*n as f64)),
        Value::F32(n) => scratch.push(Leaf::Number(f64::from(*n))),
        Value::F64(n) => scratch.push(Leaf::Number(*n)),
        Value::String(s) => scratch.push_str(s),
        Value::Bytes(b) => {
            let mut hex = String::new();
            nest::hex_text(b, &mut hex);
            scratch.push_text(&hex);
        }
        Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => scratch.push_text(v.name()),
            None => scratch.push(Leaf::Number(f64::from(*n))),
        },
        Value::Message(m) => walk_message(m, scratch),
        Value::List(items) => {
            let base = scratch.path.len();
            for (i, item) in items.iter().enumerate() {
                nest::enter_index(&mut scratch.path, base, i);
                walk(item, kind, scratch);
            }
            scratch.path.truncate(base);
        }
        Value::Map(entries) => {
            // A map's order on the wire is not kept: sorted keys keep metric order stable.
            let mut keys: Vec<&MapKey> = entries.keys().collect();
            keys.sort();
            let value_kind = match kind {
                Kind::Message(m) => m.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let base = scratch.path.len();
            for key in keys {
                let name = match key {
                    MapKey::Bool(b) => b.to_string(),
                    MapKey::I32(n) => n.to_string(),
                    MapKey::I64(n) => n.to_string(),
                    MapKey::U32(n) => n.to_string(),
                    MapKey::U64(n) => n.to_string(),
                    MapKey::String(s) => s.clone(),
                };
                nest::enter_key(&mut scratch.path, base, &name);
                if let Some(v) = entries.get(key) {
                    walk(v, &value_kind, scratch);
                }
            }
            scratch.path.truncate(base);
        }
    }
}

/// A `google.protobuf.Timestamp` as epoch seconds.
fn timestamp_seconds(msg: &DynamicMessage) -> Option<f64> {
    if msg.descriptor().full_name() != "google.protobuf.Timestamp" {
        return None;
    }
    let seconds = msg.get_field_by_name("seconds")?.as_i64()?;
    let nanos = msg.get_field_by_name("nanos")?.as_i32()?;
    Some(seconds as f64 + f64::from(nanos) / 1e9)
}

#[cfg(test)]
mod tests;
