//! Why a link failed or a publish was refused, in a few words a person can act on.
//!
//! rumqttc's errors are matched by their variants (and the `io::ErrorKind` or rustls
//! error inside), never by the text they print: that text changes between versions.

use std::io;

/// Why a 3.1.1 session failed.
pub(super) fn v311(e: &rumqttc::ConnectionError) -> String {
    use rumqttc::ConnectionError as E;
    match e {
        E::Io(io) => io_reason(io),
        E::Tls(t) => tls_reason(t),
        E::ConnectionRefused(code) => refused_v311(*code),
        E::MqttState(s) => state_v311(s),
        E::NetworkTimeout => TIMED_OUT.into(),
        E::FlushTimeout => WRITE_STALLED.into(),
        E::NotConnAck(_) => NOT_MQTT.into(),
        E::RequestsDone => CLOSED_BY_US.into(),
        E::Websocket(w) => format!("websocket: {w}"),
        E::WsConnect(h) => format!("websocket request: {h}"),
        E::InvalidUrl(u) => format!("websocket URL: {u}"),
        E::ResponseValidation(v) => format!("{WS_REFUSED} ({v:?})"),
    }
}

/// Why an MQTT 5 session failed.
pub(super) fn v5(e: &rumqttc::v5::ConnectionError) -> String {
    use rumqttc::v5::ConnectionError as E;
    match e {
        E::Io(io) => io_reason(io),
        E::Tls(t) => tls_reason(t),
        E::ConnectionRefused(code) => refused_v5(*code),
        E::MqttState(s) => state_v5(s),
        E::Timeout(_) => TIMED_OUT.into(),
        E::NotConnAck(_) => NOT_MQTT.into(),
        E::RequestsDone => CLOSED_BY_US.into(),
        E::Websocket(w) => format!("websocket: {w}"),
        E::WsConnect(h) => format!("websocket request: {h}"),
        E::InvalidUrl(u) => format!("websocket URL: {u}"),
        E::ResponseValidation(v) => format!("{WS_REFUSED} ({v:?})"),
    }
}

const TIMED_OUT: &str = "the broker did not answer in time; check the host and port";
const WRITE_STALLED: &str = "the broker stopped taking data (write timed out)";
const NOT_MQTT: &str = "the server did not answer CONNECT with CONNACK; is this an MQTT port?";
const CLOSED_BY_US: &str = "fleetop closed the connection";
const WS_REFUSED: &str =
    "the websocket upgrade was refused; check the URL's path (often /mqtt) and port";
const PLAIN_PORT: &str = "the TLS handshake was cut off: this port probably speaks plain MQTT; \
                          use mqtt:// (usually port 1883), or the broker's TLS port (usually 8883)";
const PING_UNANSWERED: &str = "the broker stopped answering pings (keepalive)";
const PEER_CLOSED: &str = "the broker closed the connection";

fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind as K;
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return rustls_reason(tls);
    }
    match e.kind() {
        K::ConnectionRefused => "nothing listens there (connection refused)".into(),
        K::ConnectionReset => "the broker reset the connection".into(),
        K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => PEER_CLOSED.into(),
        K::TimedOut => "connecting timed out; check the host, port and firewall".into(),
        K::HostUnreachable | K::NetworkUnreachable => "no route to the broker's host".into(),
        K::AddrNotAvailable => "the broker's address is not available from here".into(),
        // A failed name lookup has no stable kind of its own; its text says what happened.
        _ => e.to_string(),
    }
}

fn tls_reason(e: &rumqttc::TlsError) -> String {
    use rumqttc::TlsError as T;
    match e {
        // This variant wraps errors of the handshake only: a peer that closes on it most
        // likely took our ClientHello for a malformed MQTT packet.
        T::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionAborted
            ) =>
        {
            PLAIN_PORT.into()
        }
        T::Io(io) => io_reason(io),
        T::TLS(r) => rustls_reason(r),
        T::DNSName(_) => "the broker's host is not a valid TLS server name".into(),
        T::WebPki(w) => format!("TLS certificate problem: {w}"),
        other => format!("TLS set-up: {other}"),
    }
}

fn rustls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the broker's TLS certificate is signed by an unknown CA; \
                                 set ca_file (or --ca-file) to the CA that signed it"
                .into(),
            C::Expired | C::ExpiredContext { .. } => {
                "the broker's TLS certificate has expired".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the broker's TLS certificate is not for this host name; connect by the name \
                 it was issued for"
                    .into()
            }
            other => format!("the broker's TLS certificate was refused: {other:?}"),
        },
        // Bytes that are no TLS record: the port speaks something else, most likely MQTT.
        rustls::Error::InvalidMessage(_) => PLAIN_PORT.into(),
        rustls::Error::AlertReceived(alert) => {
            format!(
                "the broker refused the TLS handshake ({alert:?}); check client_cert and client_key"
            )
        }
        other => format!("TLS: {other}"),
    }
}

fn refused_v311(code: rumqttc::ConnectReturnCode) -> String {
    use rumqttc::ConnectReturnCode as R;
    match code {
        R::BadUserNamePassword => "bad username or password".into(),
        R::NotAuthorized => "not authorized by the broker".into(),
        R::RefusedProtocolVersion => "the broker does not speak MQTT 3.1.1".into(),
        R::BadClientId => "the broker refused the client id; set another with client_id".into(),
        R::ServiceUnavailable => "the broker is unavailable (it said so)".into(),
        R::Success => "the broker refused the connection".into(),
    }
}

fn refused_v5(code: rumqttc::v5::mqttbytes::v5::ConnectReturnCode) -> String {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as R;
    match code {
        R::BadUserNamePassword | R::BadAuthenticationMethod => "bad username or password".into(),
        R::NotAuthorized => "not authorized by the broker".into(),
        R::Banned => "this client is banned by the broker".into(),
        R::UnsupportedProtocolVersion | R::RefusedProtocolVersion => {
            "the broker does not speak MQTT 5; set protocol = \"3.1.1\" (or --protocol 3.1.1)"
                .into()
        }
        R::ClientIdentifierNotValid | R::BadClientId => {
            "the broker refused the client id; set another with client_id".into()
        }
        R::ServerUnavailable | R::ServiceUnavailable | R::ServerBusy => {
            "the broker is unavailable or busy (it said so)".into()
        }
        R::ConnectionRateExceeded | R::QuotaExceeded => {
            "the broker limits how often this client may connect".into()
        }
        R::UseAnotherServer | R::ServerMoved => "the broker says to use another server".into(),
        other => format!("the broker refused the connection ({other:?})"),
    }
}

fn state_v311(e: &rumqttc::StateError) -> String {
    use rumqttc::StateError as S;
    match e {
        S::Io(io) => io_reason(io),
        S::AwaitPingResp => PING_UNANSWERED.into(),
        S::ConnectionAborted => PEER_CLOSED.into(),
        // The socket failed while a packet was being read.
        S::Deserialization(rumqttc::mqttbytes::Error::Io(io)) => io_reason(io),
        S::Deserialization(rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(n)) => {
            format!("the broker sent a packet of {n} bytes, more than fleetop takes (16 MiB)")
        }
        other => format!("MQTT protocol error: {other}"),
    }
}

fn state_v5(e: &rumqttc::v5::StateError) -> String {
    use rumqttc::v5::StateError as S;
    match e {
        S::Io(io) => io_reason(io),
        S::AwaitPingResp => PING_UNANSWERED.into(),
        S::ConnectionAborted => PEER_CLOSED.into(),
        S::ServerDisconnect {
            reason_code,
            reason_string,
        } => match reason_string {
            Some(why) => format!(
                "the broker disconnected us: {reason_code:?} ({})",
                crate::sanitize::text(why)
            ),
            None => format!("the broker disconnected us: {reason_code:?}"),
        },
        S::ConnFail { reason } => refused_v5(*reason),
        S::Deserialization(rumqttc::v5::mqttbytes::Error::Io(io)) => io_reason(io),
        S::IncomingPacketTooLarge { pkt_size, .. } => format!(
            "the broker sent a packet of {pkt_size} bytes, more than fleetop takes (16 MiB)"
        ),
        other => format!("MQTT protocol error: {other}"),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn socket_errors_say_what_happened() {
        use rumqttc::ConnectionError as E;
        assert_eq!(
            v311(&E::Io(io(io::ErrorKind::ConnectionRefused))),
            "nothing listens there (connection refused)"
        );
        assert_eq!(
            v5(&rumqttc::v5::ConnectionError::Io(io(
                io::ErrorKind::ConnectionRefused
            ))),
            "nothing listens there (connection refused)"
        );
        assert_eq!(
            v311(&E::MqttState(rumqttc::StateError::AwaitPingResp)),
            PING_UNANSWERED
        );
        let read = rumqttc::StateError::Deserialization(rumqttc::mqttbytes::Error::Io(io(
            io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(v311(&E::MqttState(read)), "the broker reset the connection");
        let lookup = io::Error::other("failed to lookup address information: no such host");
        assert!(v311(&E::Io(lookup)).starts_with("failed to lookup"));
    }

    #[test]
    fn tls_to_a_plain_mqtt_port_suggests_mqtt_scheme() {
        // What rumqttc returns for mqtts:// to Mosquitto's plain port 1883: the broker
        // resets the connection on our ClientHello.
        let reset = rumqttc::TlsError::Io(io(io::ErrorKind::ConnectionReset));
        let why = v311(&rumqttc::ConnectionError::Tls(reset));
        assert!(
            why.contains("plain MQTT") && why.contains("mqtt://"),
            "{why}"
        );
        let garbage = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, garbage);
        let why = v5(&rumqttc::v5::ConnectionError::Tls(rumqttc::TlsError::Io(
            wrapped,
        )));
        assert!(why.contains("mqtt://"), "{why}");
        // A reset after the handshake is not that.
        let later = v311(&rumqttc::ConnectionError::Io(io(
            io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(later, "the broker reset the connection");
    }

    #[test]
    fn certificate_problems_say_what_to_set() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let why = v311(&rumqttc::ConnectionError::Tls(rumqttc::TlsError::Io(
            io::Error::new(io::ErrorKind::InvalidData, unknown),
        )));
        assert!(why.contains("ca_file"), "{why}");
    }

    #[test]
    fn refusals_are_named() {
        assert_eq!(
            v311(&rumqttc::ConnectionError::ConnectionRefused(
                rumqttc::ConnectReturnCode::BadUserNamePassword
            )),
            "bad username or password"
        );
        use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as R;
        let why = v5(&rumqttc::v5::ConnectionError::ConnectionRefused(
            R::UnsupportedProtocolVersion,
        ));
        assert!(why.contains("3.1.1"), "{why}");
    }
}
