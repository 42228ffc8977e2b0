//! TLS and authentication against a real Mosquitto that the test starts on a free port
//! with its own CA (skipped with a reason where mosquitto or openssl is missing).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Broker {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(dir: &Path, cmd: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`{cmd}` failed");
}

fn start_tls_broker() -> Option<Broker> {
    for tool in ["mosquitto", "openssl", "mosquitto_passwd"] {
        if !have(tool) {
            eprintln!("SKIP tls_auth: needs `{tool}` (apt-get install mosquitto openssl)");
            return None;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run(
        d,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=fleetop-test-ca",
    );
    run(
        d,
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1",
    );
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext");
    run(
        d,
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext",
    );
    run(d, "mosquitto_passwd -b -c passwd alice s3cret");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let conf = format!(
        "listener {port} 127.0.0.1\ncafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n\
         allow_anonymous false\npassword_file {0}/passwd\nuser {1}\n",
        d.display(),
        // Run as root, mosquitto would switch to its own user, which cannot read our temp dir.
        std::env::var("USER").unwrap_or_else(|_| "root".into())
    );
    std::fs::write(d.join("mosquitto.conf"), conf).expect("conf");
    // Mosquitto refuses world-readable password files in newer versions; keep them private.
    run(d, "chmod 600 passwd server.key ca.key");
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(d.join("mosquitto.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "test mosquitto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Broker { child, port, dir })
}

fn snapshot(b: &Broker, extra: &[&str], password: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["snapshot", "--wait", "1s", "--format", "json"])
        .arg("--broker")
        .arg(format!("mqtts://127.0.0.1:{}", b.port))
        .args([
            "--username",
            "alice",
            "--password-env",
            "FLEETOP_TEST_PASSWORD",
        ])
        .args(extra)
        .env("FLEETOP_TEST_PASSWORD", password)
        .env("HOME", b.dir.path())
        .output()
        .expect("run fleetop")
}

#[test]
fn tls_with_a_ca_file_and_a_password_from_the_environment() {
    let Some(b) = start_tls_broker() else { return };
    let ca = b.dir.path().join("ca.pem");
    let ca = ca.to_str().expect("path");

    let ok = snapshot(&b, &["--ca-file", ca], "s3cret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let snap: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("json");
    assert_eq!(snap["connections"][0]["state"], "connected");
    assert!(
        !String::from_utf8_lossy(&ok.stdout).contains("s3cret"),
        "password leaked"
    );

    let bad = snapshot(&b, &["--ca-file", ca], "wrong");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("bad username or password") || err.contains("not authorized"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "password leaked: {err}");

    // The system roots do not know the test CA.
    let untrusted = snapshot(&b, &[], "s3cret");
    assert_eq!(untrusted.status.code(), Some(1));
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    let insecure = snapshot(&b, &["--insecure-skip-verify"], "s3cret");
    assert!(
        insecure.status.success(),
        "{}",
        String::from_utf8_lossy(&insecure.stderr)
    );
    assert!(String::from_utf8_lossy(&insecure.stderr).contains("verification is OFF"));
}
