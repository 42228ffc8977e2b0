//! Effects that actions ask for, carried out at the edge: alert operations and commands
//! on the engine, bells and clipboard copies through the terminal writer, files.

use super::writer::TtyWriter;
use crate::app::{App, CommandOp, Effect};
use crate::engine::Engine;

/// Carries out one effect of an action; what happened goes to the status bar.
pub fn carry_out(effect: Effect, app: &mut App, engine: &mut Engine, tty: &mut TtyWriter) {
    match effect {
        Effect::Alert(op) => {
            app.message = Some(match engine.alert_op(&op, &crate::logging::operator()) {
                Ok(m) => m,
                Err(e) => e,
            });
        }
        Effect::Command(op) => app.message = Some(send_command(op, engine)),
        Effect::Copy(text) => {
            // OSC 52: the terminal (even across SSH) puts it on the local clipboard.
            let encoded = base64(text.as_bytes());
            tty.raw(format!("\x1b]52;c;{encoded}\x07").as_bytes());
        }
        Effect::Bell => tty.raw(b"\x07"),
        Effect::LoadTheme(name) => {
            let theme = crate::theme::Theme::load_for(&name, app.palette);
            app.theme_loaded(theme)
        }
        Effect::Write { path, contents } => {
            if let Err(e) = std::fs::write(&path, contents) {
                app.message = Some(format!("cannot write {path}: {e}"));
            }
        }
    }
}

/// Hands a command to the engine; the message says what happened, for the status bar.
fn send_command(op: CommandOp, engine: &mut Engine) -> String {
    let by = crate::logging::operator();
    match op {
        CommandOp::Send {
            devices,
            command,
            args,
        } => {
            let mut prepared = Vec::with_capacity(devices.len());
            for d in &devices {
                match engine.prepare(*d, &command, &args) {
                    Ok(p) => prepared.push((p, *d)),
                    Err(e) => return format!("nothing sent: {e}"),
                }
            }
            if let [(p, d)] = prepared.as_slice() {
                let device = crate::sanitize::text(&p.device).into_owned();
                return match engine.send(p.clone(), *d, &by) {
                    Ok(_) => format!("{command} sent to {device}; its result shows in Commands"),
                    Err(e) => e,
                };
            }
            let n = prepared.len();
            match engine.send_bulk(prepared, &by) {
                Ok(_) => format!(
                    "{command} queued for {n} devices, at most {} a second",
                    engine.desk.bulk_rate()
                ),
                Err(e) => format!("nothing sent: {e}"),
            }
        }
        CommandOp::Publish {
            ref topic,
            ref payload,
            qos,
            retain,
            ..
        } => {
            let conn = op.publish_conn(&engine.state);
            match engine.publish_raw(conn, topic, payload.as_bytes(), qos, retain, &by) {
                Ok(_) => format!("published to {}", crate::sanitize::text(topic)),
                Err(e) => e,
            }
        }
    }
}

/// Standard base64 for OSC 52.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(super::base64(b"hello"), "aGVsbG8=");
        assert_eq!(super::base64(b"hi!"), "aGkh");
        assert_eq!(super::base64(b"a"), "YQ==");
    }
}
