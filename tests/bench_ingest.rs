//! `fleetop bench ingest --ceiling` through the real binary, on a small flood: the output
//! has the fixed last line and the counts add up. Rates are printed, never asserted.

use std::process::Command;

const N: u64 = 20_000;

/// What the fixed last line says.
#[derive(Debug, PartialEq)]
enum Last {
    /// `ingest: fleetop X msg/s lossless (A of N applied), mosquitto_sub Y msg/s, ratio Z`
    /// (`mosquitto_sub n/a, ratio n/a` without the reference).
    Lossless {
        rate: u64,
        applied: u64,
        sent: u64,
        reference: Option<(u64, f64)>,
    },
    /// `ingest: fleetop lossy (K of N lost, A applied), mosquitto_sub …, ratio n/a`.
    Lossy { lost: u64, sent: u64 },
}

fn parse_last(line: &str) -> Option<Last> {
    let rest = line.strip_prefix("ingest: fleetop ")?;
    if let Some(rest) = rest.strip_prefix("lossy (") {
        let (lost, rest) = rest.split_once(" of ")?;
        let (sent, rest) = rest.split_once(" lost, ")?;
        let (_, tail) = rest.split_once(" applied), mosquitto_sub ")?;
        if !tail.ends_with(", ratio n/a") {
            return None;
        }
        return Some(Last::Lossy {
            lost: lost.parse().ok()?,
            sent: sent.parse().ok()?,
        });
    }
    let (rate, rest) = rest.split_once(" msg/s lossless (")?;
    let (applied, rest) = rest.split_once(" of ")?;
    let (sent, rest) = rest.split_once(" applied), mosquitto_sub ")?;
    let (rate, applied, sent) = (
        rate.parse().ok()?,
        applied.parse().ok()?,
        sent.parse().ok()?,
    );
    let reference = if rest == "n/a, ratio n/a" {
        None
    } else {
        let (y, z) = rest.split_once(" msg/s, ratio ")?;
        let (whole, decimals) = z.split_once('.')?;
        if decimals.len() != 2 || whole.is_empty() {
            return None;
        }
        Some((y.parse().ok()?, z.parse().ok()?))
    };
    Some(Last::Lossless {
        rate,
        applied,
        sent,
        reference,
    })
}

#[test]
fn last_line_parser_accepts_only_the_fixed_shape() {
    assert_eq!(
        parse_last(
            "ingest: fleetop 1200000 msg/s lossless (20000 of 20000 applied), \
             mosquitto_sub 180000 msg/s, ratio 6.67"
        ),
        Some(Last::Lossless {
            rate: 1_200_000,
            applied: 20_000,
            sent: 20_000,
            reference: Some((180_000, 6.67))
        })
    );
    assert_eq!(
        parse_last(
            "ingest: fleetop 5 msg/s lossless (9 of 9 applied), mosquitto_sub n/a, ratio n/a"
        ),
        Some(Last::Lossless {
            rate: 5,
            applied: 9,
            sent: 9,
            reference: None
        })
    );
    assert_eq!(
        parse_last(
            "ingest: fleetop lossy (3 of 9 lost, 6 applied), mosquitto_sub 4 msg/s, ratio n/a"
        ),
        Some(Last::Lossy { lost: 3, sent: 9 })
    );
    assert_eq!(
        parse_last("ingest: fleetop 5 msg/s, mosquitto_sub 4 msg/s, ratio 1.30"),
        None,
        "a rate without its count is not the line"
    );
    assert_eq!(parse_last("ingest: fleetop 5.5 msg/s"), None);
}

/// The number after `prefix` in `line`, e.g. `got 20000` → 20000.
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn ceiling_bench_prints_counts_and_the_fixed_last_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["bench", "ingest", "--ceiling", "--messages", &N.to_string()])
        .output()
        .expect("run fleetop");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    print!("{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    let parsed = parse_last(last).unwrap_or_else(|| panic!("bad last line: {last:?}\n{stdout}"));
    // Lossless by default: the stand-in's flood is applied whole, whatever the speed.
    let Last::Lossless {
        rate,
        applied,
        sent,
        reference,
    } = parsed
    else {
        panic!("fleetop lost messages of the flood: {last}\n{stdout}");
    };
    assert_eq!((applied, sent), (N, N), "{last}");
    assert!(rate > 0, "{stdout}");

    // The bare rumqttc loops ran for both protocols.
    for p in ["MQTT 3.1.1", "MQTT 5"] {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with(p) && l.contains("msg/s")),
            "no bare-loop line for {p}\n{stdout}"
        );
    }

    // Two rounds by default; each round measures fleetop with a [[fleet]] and with no
    // config, and every run accounts for every message: all applied, none dropped.
    assert!(lines.contains(&"round 2 of 2:"), "{stdout}");
    for setup in ["with a [[fleet]]", "no config"] {
        let runs: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("fleetop whole pipeline (MQTT 5, {setup})")))
            .collect();
        assert_eq!(runs.len(), 2, "{setup}\n{stdout}");
        for run in runs {
            assert_eq!(number_after(run, "got "), Some(N), "{run}");
            assert_eq!(number_after(run, "applied "), Some(N), "{run}");
            assert_eq!(number_after(run, "queue drops "), Some(0), "{run}");
        }
        assert!(
            lines.iter().any(|l| l
                .starts_with(&format!("best of 2 round(s), fleetop (MQTT 5, {setup}): "))
                && l.contains("lossless")),
            "no best-of line for {setup}\n{stdout}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("peak RSS of this process: "))
    );

    match reference {
        Some((y, ratio)) => {
            let line = lines
                .iter()
                .rev()
                .find(|l| l.starts_with("mosquitto_sub: got "))
                .unwrap_or_else(|| panic!("no mosquitto_sub line\n{stdout}"));
            // TCP does not drop: the stand-in's stream reaches mosquitto_sub whole.
            assert_eq!(number_after(line, "got "), Some(N), "{line}");
            assert!(y > 0);
            let expected = rate as f64 / y as f64;
            assert!((ratio - expected).abs() < 0.01, "{last}");
        }
        None => assert!(
            stdout.contains("mosquitto_sub is not on PATH")
                || stdout.contains("mosquitto_sub cannot be measured"),
            "{stdout}"
        ),
    }
}

#[test]
fn broker_mode_needs_a_broker() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["bench", "ingest", "--messages", "10"])
        .output()
        .expect("run fleetop");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--broker"), "{stderr}");
}
