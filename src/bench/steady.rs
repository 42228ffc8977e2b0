//! `fleetop bench ingest --steady RATE --broker URL`: what fleetop costs at an everyday
//! rate, against mosquitto_sub on the same stream. A publisher sends the flood's messages
//! through the broker at RATE a second; `fleetop --headless` (this very binary, as a user
//! runs it, with no config) and mosquitto_sub each receive them as child processes with
//! their output discarded, and each one's CPU time (utime + stime from /proc) is divided
//! by the messages it got. fleetop's CPU with no traffic is measured first.

use super::mosquitto::MosquittoSub;
use super::publisher::Publisher;
use super::{flood, human};
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Linux reports process times in clock ticks of 1/100 s (USER_HZ, fixed by the ABI).
const TICKS_PER_SEC: f64 = 100.0;
/// How long fleetop's idle CPU is watched before the stream starts.
const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// Time given to both subscribers to connect and subscribe.
const SETTLE: Duration = Duration::from_secs(2);

/// A process's CPU time so far, in seconds; `None` once it is gone.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing paren.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// `fleetop --headless` as a child, and the messages its latest stats line counted.
struct Headless {
    child: std::process::Child,
    messages: Arc<AtomicU64>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// A state directory of its own, so the bench leaves nothing in the user's.
    _state: tempfile::TempDir,
}

impl Headless {
    fn spawn(url: &str) -> Result<Headless, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find fleetop: {e}"))?;
        let state = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
        let mut child = std::process::Command::new(exe)
            .args(["--headless", "--read-only", "--broker", url])
            .args(["--subscribe", flood::FILTER])
            .env("XDG_STATE_HOME", state.path())
            .env("XDG_CONFIG_HOME", state.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start fleetop --headless: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("fleetop --headless has no stdout")?;
        let messages = Arc::new(AtomicU64::new(0));
        let seen = messages.clone();
        let reader = std::thread::Builder::new()
            .name("bench-headless".into())
            .spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    if v["type"] == "stats"
                        && let Some(n) = v["messages"].as_u64()
                    {
                        seen.store(n, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| format!("cannot start the reader thread: {e}"))?;
        Ok(Headless {
            child,
            messages,
            reader: Some(reader),
            _state: state,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it the way a user would (SIGTERM), and returns the messages it counted.
    fn stop(mut self) -> u64 {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.messages.load(Ordering::Relaxed)
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Runs the steady stream; the returned line is the bench's last.
pub async fn run(
    host: &str,
    port: u16,
    url: &str,
    credentials: Option<(String, String)>,
    rate: f64,
    secs: u64,
) -> Result<String, String> {
    let n = (rate * secs as f64).round() as u64;
    let block = Arc::new(flood::block(n));
    println!(
        "bench ingest --steady: {n} messages at {} msg/s for {secs} s through {url}, {:.0} B JSON \
         on average over {} devices, QoS 0",
        human(rate),
        flood::mean_payload(&block),
        flood::DEVICES
    );
    let fleetop = Headless::spawn(url)?;
    let sub = match super::mosquitto::find() {
        Some(program) => Some(MosquittoSub::spawn(&program, host, port, flood::FILTER)?),
        None => {
            println!("mosquitto_sub is not on PATH: measuring fleetop alone");
            None
        }
    };
    tokio::time::sleep(SETTLE).await;
    let idle_from = cpu_secs(fleetop.pid()).ok_or("fleetop --headless exited")?;
    tokio::time::sleep(IDLE_WINDOW).await;
    let idle = cpu_secs(fleetop.pid()).ok_or("fleetop --headless exited")? - idle_from;
    let idle_pct = idle / IDLE_WINDOW.as_secs_f64() * 100.0;
    println!(
        "fleetop --headless with no traffic: {idle_pct:.2} % of a core over {} s",
        IDLE_WINDOW.as_secs()
    );

    let publisher = Publisher::connect(host, port, credentials, block).await?;
    let fleetop_from = cpu_secs(fleetop.pid()).ok_or("fleetop --headless exited")?;
    let before = fleetop.messages.load(Ordering::Relaxed);
    let sub_from = sub.as_ref().and_then(|s| {
        s.rebase();
        cpu_secs(s.pid)
    });
    let published = publisher
        .paced(n, rate)
        .await
        .map_err(|_| "the publisher stopped".to_string())??;
    // What is in flight arrives; stats lines come every 5 s, the last one at exit.
    tokio::time::sleep(SETTLE).await;
    let fleetop_cpu = cpu_secs(fleetop.pid()).ok_or("fleetop --headless exited")? - fleetop_from;
    let sub_cpu = sub
        .as_ref()
        .and_then(|s| Some(cpu_secs(s.pid)? - sub_from?));
    let got = fleetop.stop().saturating_sub(before);
    println!(
        "publisher: {} messages in {:.1} s ({} msg/s)",
        published.messages,
        published.secs,
        human(published.messages as f64 / published.secs.max(1e-9))
    );
    let per_msg = |cpu: f64, got: u64| cpu / got.max(1) as f64 * 1e6;
    let fleetop_us = per_msg(fleetop_cpu, got);
    println!(
        "fleetop --headless: got {got} of {n}, {fleetop_cpu:.2} s CPU, {fleetop_us:.2} µs per message \
         ({:.1} % of a core)",
        fleetop_cpu / secs as f64 * 100.0
    );
    let reference = match (sub, sub_cpu) {
        (Some(sub), Some(cpu)) => {
            let tally = sub.stop().await;
            let us = per_msg(cpu, tally.count);
            println!(
                "mosquitto_sub: got {} of {n}, {cpu:.2} s CPU, {us:.2} µs per message",
                tally.count
            );
            Some(us)
        }
        _ => None,
    };
    Ok(match reference {
        Some(us) => format!(
            "steady: fleetop {fleetop_us:.2} µs/msg ({got} of {n}), mosquitto_sub {us:.2} µs/msg, \
             ratio {:.2}; idle {idle_pct:.2} %",
            fleetop_us / us.max(1e-9)
        ),
        None => format!(
            "steady: fleetop {fleetop_us:.2} µs/msg ({got} of {n}), mosquitto_sub n/a, ratio n/a; \
             idle {idle_pct:.2} %"
        ),
    })
}
