//! What one broker connection needs, resolved from its `[[broker]]` entry: URL, secrets,
//! TLS and client id.

use crate::config::url::BrokerUrl;
use crate::config::{BrokerConfig, Protocol};
use std::sync::Arc;
use std::time::Duration;

/// Everything needed to open one broker connection; secrets already resolved.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub name: String,
    pub url: BrokerUrl,
    pub protocol: Protocol,
    pub client_id: String,
    pub keepalive: Duration,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    pub credentials: Option<(String, String)>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub subscriptions: Vec<(String, u8)>,
    /// Never publish on this connection.
    pub read_only: bool,
    /// Where MQTT 5 replies to our commands come (subscribed on connect); `None`: no
    /// request/response.
    pub response_topic: Option<String>,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("ConnectionSpec")
            .field("name", &self.name)
            .field("url", &self.url.to_string())
            .field("protocol", &self.protocol)
            .field("client_id", &self.client_id)
            .field("subscriptions", &self.subscriptions)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl ConnectionSpec {
    /// Resolves a `[[broker]]` entry: URL, password source, TLS, client id.
    pub fn from_config(
        b: &BrokerConfig,
        subscriptions: Vec<(String, u8)>,
        read_only: bool,
    ) -> Result<Self, String> {
        let url = BrokerUrl::parse(b.url.get_ref())?;
        let username = b.username.clone().or_else(|| url.username.clone());
        let password = resolve_password(b)?;
        let credentials = match (username, password) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, Some(_)) => {
                return Err(format!(
                    "broker `{}` has a password but no username; set username",
                    b.name
                ));
            }
            (None, None) => None,
        };
        let tls = if url.scheme.is_tls() {
            if b.insecure_skip_verify {
                tracing::warn!(broker = %b.name, "TLS certificate verification is OFF");
                eprintln!(
                    "WARNING: broker `{}`: TLS certificate verification is OFF (insecure_skip_verify); \
                     anyone on the path can read and forge this traffic",
                    b.name
                );
            }
            Some(crate::source::tls::client_config(b)?)
        } else {
            None
        };
        let keepalive = b.keepalive.unwrap_or(Duration::from_secs(30));
        // rumqttc panics below these floors rather than return an error.
        let floor = match b.protocol {
            Protocol::V5 => Duration::from_secs(5),
            Protocol::V311 => Duration::from_secs(1),
        };
        if keepalive < floor {
            return Err(format!(
                "broker `{}`: keepalive {keepalive:?} is too short for MQTT {}; use at least {}s",
                b.name,
                b.protocol,
                floor.as_secs()
            ));
        }
        Ok(ConnectionSpec {
            name: b.name.clone(),
            url,
            protocol: b.protocol,
            client_id: b.client_id.clone().unwrap_or_else(default_client_id),
            keepalive,
            max_backoff: b.max_backoff.unwrap_or(super::DEFAULT_MAX_BACKOFF),
            credentials,
            tls,
            subscriptions,
            read_only: read_only || b.read_only,
            response_topic: None,
        })
    }
}

/// `fleetop-<host>-<random>`: recognisable in broker logs, unique per run.
pub fn default_client_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    format!("fleetop-{host}-{:06x}", fastrand::u32(..0x100_0000))
}

fn resolve_password(b: &BrokerConfig) -> Result<Option<String>, String> {
    if let Some(var) = &b.password_env {
        return std::env::var(var).map(Some).map_err(|_| {
            format!(
                "broker `{}`: environment variable {var} (password_env) is not set",
                b.name
            )
        });
    }
    if let Some(path) = &b.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "broker `{}`: cannot read password_file {}: {e}",
                b.name,
                path.display()
            )
        })?;
        return Ok(Some(text.lines().next().unwrap_or("").to_string()));
    }
    if b.password_prompt {
        let prompt = format!("Password for broker `{}`: ", b.name);
        return rpassword::prompt_password(prompt)
            .map(Some)
            .map_err(|e| format!("broker `{}`: cannot prompt for the password: {e}", b.name));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keepalive_below_rumqttcs_floor_is_refused_not_a_panic() {
        let broker = |protocol: &str, keepalive: &str| {
            let text = format!(
                "[[broker]]\nname = \"b\"\nurl = \"mqtt://127.0.0.1:1883\"\n\
                 protocol = \"{protocol}\"\nkeepalive = \"{keepalive}\"\n"
            );
            let config = crate::config::Config::parse(&text, None).expect("config");
            ConnectionSpec::from_config(&config.brokers[0], Vec::new(), true)
        };
        let e = broker("5", "2s").expect_err("too short for MQTT 5");
        assert!(e.contains("at least 5s"), "{e}");
        assert!(broker("5", "5s").is_ok());
        assert!(broker("3.1.1", "1s").is_ok());
    }

    #[test]
    fn client_ids_name_the_host() {
        let id = default_client_id();
        assert!(id.starts_with("fleetop-"));
        assert_ne!(default_client_id(), id);
    }
}
