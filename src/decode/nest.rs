//! Naming leaves of nested payloads: every decoder (JSON, CBOR, MessagePack, protobuf)
//! names a leaf by the dotted path of keys and indices that leads to it, so
//! `{"env":{"t":21}}` is `env.t` whichever encoding carried it.

use std::fmt::Write as _;

/// How deep a binary payload may nest: deeper is an error, never a stack overflow.
/// serde_json's own limit (128) bounds JSON.
pub const MAX_DEPTH: usize = 64;

/// Bytes of a byte-string value shown (as hex) before the cut.
const MAX_HEX_BYTES: usize = 32;

/// Appends `.key` (or `key` at the top) to `path`, which was `base` characters long.
pub fn enter_key(path: &mut String, base: usize, key: &str) {
    path.truncate(base);
    if base > 0 {
        path.push('.');
    }
    path.push_str(key);
}

/// Appends `.index` (or `index` at the top) to `path`, which was `base` characters long.
pub fn enter_index(path: &mut String, base: usize, index: usize) {
    path.truncate(base);
    if base > 0 {
        path.push('.');
    }
    if index < 10 {
        path.push(char::from(b'0' + index as u8));
    } else {
        let _ = write!(path, "{index}");
    }
}

/// A byte string as bounded hex text (`0a1b…`), so binary never reaches the terminal raw.
pub fn hex_text(bytes: &[u8], out: &mut String) {
    for b in bytes.iter().take(MAX_HEX_BYTES) {
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > MAX_HEX_BYTES {
        let _ = write!(out, "… ({} bytes)", bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_hex() {
        let mut p = String::new();
        enter_key(&mut p, 0, "env");
        let base = p.len();
        enter_index(&mut p, base, 12);
        assert_eq!(p, "env.12");
        enter_key(&mut p, base, "t");
        assert_eq!(p, "env.t");
        let mut h = String::new();
        hex_text(&[0xde, 0xad], &mut h);
        assert_eq!(h, "dead");
        h.clear();
        hex_text(&[0u8; 40], &mut h);
        assert!(h.ends_with("… (40 bytes)"), "{h}");
    }
}
