//! Why a link failed or a publish was refused, in a few words a person can act on.

/// The broker's reason for refusing a publish, if it refused (MQTT 5 reason codes; "no
/// matching subscribers" is not a refusal).
pub(super) fn refusal(reason: &impl std::fmt::Debug, text: Option<String>) -> Option<String> {
    let code = format!("{reason:?}");
    if code == "Success" || code == "NoMatchingSubscribers" {
        return None;
    }
    Some(match text {
        Some(t) => format!(
            "broker refused the publish: {code} ({})",
            crate::sanitize::text(&t)
        ),
        None => format!("broker refused the publish: {code}"),
    })
}

/// Turns rumqttc's error text into a short reason a person can act on.
pub(super) fn reason(e: &str) -> String {
    let lower = e.to_ascii_lowercase();
    if lower.contains("connection refused (os error") {
        "nothing listens there (connection refused)".into()
    } else if lower.contains("badusernamepassword") || lower.contains("badusername") {
        "bad username or password".into()
    } else if lower.contains("notauthorized") {
        "not authorized by the broker".into()
    } else if lower.contains("invalidcertificate") || lower.contains("certificate") {
        format!("TLS certificate problem: {e}")
    } else if lower.contains("failed to lookup address") || lower.contains("name or service") {
        "cannot resolve the broker's host name".into()
    } else {
        e.trim_start_matches("I/O: ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_short() {
        assert_eq!(
            reason("I/O: Connection refused (os error 111)"),
            "nothing listens there (connection refused)"
        );
        assert_eq!(
            reason("Connection refused, return code: `BadUserNamePassword`"),
            "bad username or password"
        );
    }
}
