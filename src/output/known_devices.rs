//! The devices a place knew, kept in `$XDG_STATE_HOME/fleetop/devices/<place>.json` so a
//! restart remembers devices that died without a word. Saved every
//! [`SAVE_EVERY_MS`] off the core's thread, and once more when the engine stops.

use super::alert_log::Place;
use crate::fleet::KnownFleet;
use std::path::{Path, PathBuf};

/// How often the known devices are saved while running.
pub const SAVE_EVERY_MS: i64 = 30_000;

/// The file of one place's known devices.
pub struct KnownDevicesFile {
    path: PathBuf,
    saved_ms: i64,
    /// The save in progress, written off the core's thread.
    writing: Option<std::thread::JoinHandle<()>>,
}

impl KnownDevicesFile {
    /// The file of `place` in the XDG state directory; `None` without one, or for a place
    /// that does not keep its devices.
    pub fn of(place: &Place) -> Option<KnownDevicesFile> {
        if !place.keeps_devices() {
            return None;
        }
        let dir = crate::logging::state_dir()?.join("devices");
        std::fs::create_dir_all(&dir).ok()?;
        let name = place.file_name().replace(".jsonl", ".json");
        Some(KnownDevicesFile::at(dir.join(name)))
    }

    pub fn at(path: PathBuf) -> KnownDevicesFile {
        KnownDevicesFile {
            path,
            saved_ms: i64::MIN,
            writing: None,
        }
    }

    /// What the last run saved; a missing file is an empty fleet, a damaged one is
    /// reported and ignored (the next save replaces it).
    pub fn load(&self) -> Option<KnownFleet> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str(&text) {
            Ok(known) => Some(known),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "known devices unreadable, starting without them: {e}");
                None
            }
        }
    }

    /// True when a save is due at `now_ms` and none is still being written.
    pub fn due(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.saved_ms) >= SAVE_EVERY_MS
            && self.writing.as_ref().is_none_or(|w| w.is_finished())
    }

    /// Saves `known` off the calling thread.
    pub fn save(&mut self, known: KnownFleet) {
        self.saved_ms = known.saved_at_ms;
        let path = self.path.clone();
        self.writing = Some(std::thread::spawn(move || write(&path, &known)));
    }

    /// Saves `known` and waits until it is written: the last save, when the engine stops.
    pub fn save_now(&mut self, known: KnownFleet) {
        if let Some(w) = self.writing.take() {
            let _ = w.join();
        }
        self.saved_ms = known.saved_at_ms;
        write(&self.path, &known);
    }
}

/// Writes the whole file beside the old one, then replaces it, so a crash midway leaves
/// the previous save.
fn write(path: &Path, known: &KnownFleet) {
    let tmp = path.with_extension("json.saving");
    let written = serde_json::to_vec(known)
        .map_err(|e| e.to_string())
        .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| e.to_string()))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(path = %path.display(), "cannot save the known devices: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{KnownDevice, Status};

    #[test]
    fn the_demo_keeps_no_devices_a_broker_does() {
        assert!(KnownDevicesFile::of(&Place::named("demo-demo")).is_none());
        assert!(Place::watching(&["mqtt://plant:1883".into()], None).keeps_devices());
    }

    #[test]
    fn a_save_reads_back_and_a_damaged_file_is_no_fleet() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut file = KnownDevicesFile::at(dir.path().join("p.json"));
        assert_eq!(file.load(), None);
        assert!(file.due(0));
        let known = KnownFleet {
            saved_at_ms: 1_000,
            devices: vec![KnownDevice {
                name: "tank-01".into(),
                fleet: "tanks".into(),
                conn: "plant".into(),
                labels: vec![("site".into(), "north".into())],
                status: Status::Stale,
                first_seen_ms: 1,
                last_seen_ms: 2,
                last_live_ms: Some(2),
                available: None,
                live_messages: 9,
            }],
        };
        file.save(known.clone());
        assert!(!file.due(1_000 + SAVE_EVERY_MS - 1));
        file.save_now(known.clone());
        assert_eq!(file.load(), Some(known));
        std::fs::write(dir.path().join("p.json"), "{\"saved_at_ms\":").unwrap_or_default();
        assert_eq!(file.load(), None);
    }
}
