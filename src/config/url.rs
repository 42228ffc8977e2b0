//! Broker URLs: `mqtt://host[:1883]`, `mqtts://host[:8883]`, `ws://host[:80]/path`,
//! `wss://host[:443]/path`. A password in a URL is refused: it would sit in argv and shell
//! history; use `password_env`, `password_file` or `password_prompt`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Mqtt,
    Mqtts,
    Ws,
    Wss,
}

impl Scheme {
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }
}

/// A parsed broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Path for websockets (`/mqtt`); empty for TCP.
    pub path: String,
    pub username: Option<String>,
}

impl BrokerUrl {
    pub fn parse(s: &str) -> Result<BrokerUrl, String> {
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            format!(
                "`{s}` has no scheme; write it like mqtt://host:1883 (or mqtts://, ws://, wss://)"
            )
        })?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            other => {
                return Err(format!(
                    "unknown scheme `{other}://` in `{s}`; use mqtt://, mqtts://, ws:// or wss://"
                ));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let username = match userinfo {
            Some(u) if u.contains(':') => {
                return Err(
                    "the URL holds a password; passwords never go on the command line or in URLs: \
                     use password_env, password_file or password_prompt in the [[broker]] entry"
                        .into(),
                );
            }
            Some(u) => Some(u.to_string()),
            None => None,
        };
        let (host, port) = split_host_port(hostport, s)?;
        if host.is_empty() {
            return Err(format!("`{s}` has no host"));
        }
        let default_port = match scheme {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        };
        if matches!(scheme, Scheme::Mqtt | Scheme::Mqtts) && !matches!(path, "" | "/") {
            return Err(format!("`{s}`: only ws:// and wss:// URLs take a path"));
        }
        Ok(BrokerUrl {
            scheme,
            host,
            port: port.unwrap_or(default_port),
            path: if path.is_empty() && matches!(scheme, Scheme::Ws | Scheme::Wss) {
                "/mqtt".into()
            } else {
                path.trim_end_matches('/').to_string()
            },
            username,
        })
    }

    /// The URL a websocket transport connects to.
    pub fn websocket_url(&self) -> String {
        let scheme = if self.scheme == Scheme::Wss {
            "wss"
        } else {
            "ws"
        };
        format!(
            "{scheme}://{}:{}{}",
            self.host_for_url(),
            self.port,
            self.path
        )
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

fn split_host_port(hostport: &str, whole: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = |p: &str| format!("`{p}` in `{whole}` is not a port number (1-65535)");
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{whole}`: unclosed `[` in IPv6 address"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(
                p.parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad_port(p))?,
            ),
            None => None,
        };
        return Ok((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => {
            let port: u16 = p
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad_port(p))?;
            Ok((h.to_string(), Some(port)))
        }
        None => Ok((hostport.to_string(), None)),
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        };
        write!(
            f,
            "{scheme}://{}:{}{}",
            self.host_for_url(),
            self.port,
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_schemes_with_default_ports() {
        let u = BrokerUrl::parse("mqtt://broker.local").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Mqtt, "broker.local", 1883)
        );
        assert_eq!(BrokerUrl::parse("mqtts://h").unwrap().port, 8883);
        let w = BrokerUrl::parse("wss://h/ws").unwrap();
        assert_eq!((w.port, w.path.as_str()), (443, "/ws"));
        assert_eq!(w.websocket_url(), "wss://h:443/ws");
        assert_eq!(BrokerUrl::parse("ws://h:9001").unwrap().path, "/mqtt");
        let v6 = BrokerUrl::parse("mqtt://[::1]:1884").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1884));
        assert_eq!(
            BrokerUrl::parse("mqtt://alice@h")
                .unwrap()
                .username
                .as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn refuses_passwords_bad_ports_and_schemes() {
        assert!(
            BrokerUrl::parse("mqtt://a:secret@h")
                .unwrap_err()
                .contains("password")
        );
        assert!(
            BrokerUrl::parse("mqtt://h:99999")
                .unwrap_err()
                .contains("port")
        );
        assert!(BrokerUrl::parse("http://h").unwrap_err().contains("scheme"));
        assert!(
            BrokerUrl::parse("h:1883")
                .unwrap_err()
                .contains("no scheme")
        );
        assert!(BrokerUrl::parse("mqtt://h/x").is_err());
    }
}
