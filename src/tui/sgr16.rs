//! crossterm writes even the 16 ANSI colours as 256-colour escapes (`ESC[38;5;1m`), which
//! a 16-colour terminal may not read and which cost bytes on a slow link. For such
//! terminals each frame's colour escapes are rewritten to the classic ones (`ESC[31m`).

/// `frame` with every `38;5;N` / `48;5;N` (N < 16) in its SGR escapes written as the
/// 16-colour code; everything else is left as it was.
pub fn rewrite(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len());
    let mut i = 0;
    while i < frame.len() {
        if frame[i] == 0x1b
            && frame.get(i + 1) == Some(&b'[')
            && let Some(len) = sgr_len(&frame[i + 2..])
        {
            let params = &frame[i + 2..i + 2 + len];
            out.extend_from_slice(b"\x1b[");
            out.extend_from_slice(&rewrite_params(params));
            out.push(b'm');
            i += 2 + len + 1;
            continue;
        }
        out.push(frame[i]);
        i += 1;
    }
    out
}

/// The length of the parameters of an SGR escape starting here (digits and `;` up to an
/// `m`), if it is one.
fn sgr_len(rest: &[u8]) -> Option<usize> {
    let len = rest
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b';'))?;
    (rest[len] == b'm').then_some(len)
}

fn rewrite_params(params: &[u8]) -> Vec<u8> {
    let parts: Vec<&[u8]> = params.split(|b| *b == b';').collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        let n = |j: usize| -> Option<u8> { std::str::from_utf8(parts.get(j)?).ok()?.parse().ok() };
        match (n(i), n(i + 1), n(i + 2)) {
            (Some(layer @ (38 | 48)), Some(5), Some(c)) if c < 16 => {
                let base = if layer == 38 { 30 } else { 40 };
                let code = if c < 8 { base + c } else { base + 60 + c - 8 };
                out.push(code.to_string());
                i += 3;
            }
            _ => {
                out.push(String::from_utf8_lossy(parts[i]).into_owned());
                i += 1;
            }
        }
    }
    out.join(";").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn ansi_colours_are_written_the_16_colour_way() {
        let frame = b"\x1b[38;5;0;48;5;6mok\x1b[38;5;9mred\x1b[1;38;5;200m\x1b[2J\x1b[0m";
        assert_eq!(
            rewrite(frame),
            b"\x1b[30;46mok\x1b[91mred\x1b[1;38;5;200m\x1b[2J\x1b[0m".to_vec()
        );
        // Text with bytes that look like the start of an escape is left alone.
        assert_eq!(rewrite(b"\x1b[38;5;1"), b"\x1b[38;5;1".to_vec());
        assert_eq!(
            rewrite("é 38;5;1m".as_bytes()),
            "é 38;5;1m".as_bytes().to_vec()
        );
    }
}
