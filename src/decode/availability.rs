//! Availability (LWT) payloads: whether a device says it is online.

/// Online/offline from an availability payload: the configured words, common synonyms
/// (`true`/`false`, `1`/`0`, Homie's `ready`/`lost`), or Zigbee2MQTT's `{"state": "online"}`.
pub fn parse(payload: &[u8], online: &str, offline: &str) -> Option<bool> {
    let s = std::str::from_utf8(payload).ok()?.trim();
    if s.eq_ignore_ascii_case(online) {
        return Some(true);
    }
    if s.eq_ignore_ascii_case(offline) {
        return Some(false);
    }
    if s.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct State<'a> {
            #[serde(borrow)]
            state: std::borrow::Cow<'a, str>,
        }
        let st: State<'_> = serde_json::from_str(s).ok()?;
        return parse(st.state.as_bytes(), online, offline);
    }
    match s.to_ascii_lowercase().as_str() {
        "online" | "true" | "1" | "ready" | "connected" | "up" => Some(true),
        "offline" | "false" | "0" | "lost" | "disconnected" | "down" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn availability_words() {
        assert_eq!(parse(b"Online", "online", "offline"), Some(true));
        assert_eq!(parse(b"false", "online", "offline"), Some(false));
        assert_eq!(parse(b"lost", "online", "offline"), Some(false));
        assert_eq!(
            parse(br#"{"state": "offline"}"#, "online", "offline"),
            Some(false)
        );
        assert_eq!(parse(b"dead", "alive", "dead"), Some(false));
        assert_eq!(parse(b"maybe", "online", "offline"), None);
    }
}
