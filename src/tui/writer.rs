//! Frames go to the terminal from a thread of their own. A terminal that stops reading (a
//! stuck SSH link, a paused tmux pane) blocks that thread in write(2) and nothing else:
//! while it is busy no frame is rendered, so when it comes back the next frame shows the
//! fleet as it is then (the latest frame wins) and the screen is never out of step with
//! what ratatui believes it shows.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Most bytes of bells and clipboard sequences kept while the terminal is busy.
const EXTRA_CAP: usize = 1 << 20;

/// The sending side: hands a frame over when the terminal has taken the last one.
pub struct TtyWriter {
    tx: SyncSender<Vec<u8>>,
    busy: Arc<AtomicBool>,
    /// Bytes that are not a frame (bell, OSC 52 copy), sent with the next frame.
    extra: Vec<u8>,
    /// Frames not drawn because the terminal had not taken the previous one.
    skipped: Arc<AtomicU64>,
}

impl TtyWriter {
    /// Starts the writer thread on `out` (stdout in the app, a pipe in tests).
    pub fn start(out: impl Write + Send + 'static) -> std::io::Result<TtyWriter> {
        let (tx, rx) = sync_channel(1);
        let busy = Arc::new(AtomicBool::new(false));
        let thread_busy = busy.clone();
        std::thread::Builder::new()
            .name("fleetop-tty".into())
            .spawn(move || write_frames(out, rx, &thread_busy))?;
        Ok(TtyWriter {
            tx,
            busy,
            extra: Vec::new(),
            skipped: Arc::default(),
        })
    }

    /// True when the terminal has taken everything handed to it.
    pub fn idle(&self) -> bool {
        !self.busy.load(Ordering::Acquire)
    }

    /// Counts a frame that was not drawn because the terminal was busy.
    pub fn skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Frames skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Hands `frame` (plus any pending bells and copies) to the terminal. Call only when
    /// [`TtyWriter::idle`]: a busy terminal gets no new frame.
    pub fn send(&mut self, mut frame: Vec<u8>) {
        frame.append(&mut self.extra);
        if frame.is_empty() {
            return;
        }
        self.busy.store(true, Ordering::Release);
        match self.tx.try_send(frame) {
            Ok(()) => {}
            // Busy after all (or the writer is gone): the frame is dropped, not queued.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.skip(),
        }
    }

    /// Bytes that are not a frame: go now if the terminal is idle, else with the next frame.
    pub fn raw(&mut self, bytes: &[u8]) {
        if self.extra.len() + bytes.len() <= EXTRA_CAP {
            self.extra.extend_from_slice(bytes);
        }
        if self.idle() {
            self.send(Vec::new());
        }
    }

    /// Waits up to `patience` for the terminal to take what it was handed; false if it
    /// did not (then restoring it would block as well).
    pub fn settle(&self, patience: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + patience;
        while !self.idle() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }
}

/// Where ratatui renders a frame: memory, taken whole once the frame is complete.
#[derive(Clone, Default)]
pub struct FrameBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl FrameBuf {
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // Plain bytes: a panic elsewhere cannot leave them half-updated in a harmful way.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The frame rendered since the last take.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes())
    }
}

impl Write for FrameBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_frames(mut out: impl Write, rx: Receiver<Vec<u8>>, busy: &AtomicBool) {
    for frame in rx {
        let written = out.write_all(&frame).and_then(|()| out.flush());
        busy.store(false, Ordering::Release);
        if written.is_err() {
            // The terminal is gone (SIGHUP follows): nothing more to draw on.
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A terminal that takes nothing until released, then records what it got.
    struct Stuck {
        release: std::sync::mpsc::Receiver<()>,
        got: Arc<std::sync::Mutex<Vec<u8>>>,
    }

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.release.recv();
            self.got.lock().expect("got").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_terminal_blocks_only_its_thread_and_gets_the_latest_frame_after() {
        let (release, rx) = std::sync::mpsc::channel();
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = TtyWriter::start(Stuck {
            release: rx,
            got: got.clone(),
        })
        .expect("writer");
        assert!(w.idle());
        w.send(b"frame1".to_vec());
        assert!(!w.idle(), "the terminal has not taken frame1");
        // The caller never blocks: while busy, frames are skipped, bells wait.
        w.raw(b"\x07");
        for _ in 0..100 {
            assert!(!w.idle());
            w.skip();
        }
        assert!(!w.settle(Duration::from_millis(20)));
        release.send(()).expect("release");
        assert!(w.settle(Duration::from_secs(10)), "never took frame1");
        w.send(b"frame9".to_vec());
        release.send(()).expect("release");
        assert!(w.settle(Duration::from_secs(10)));
        assert_eq!(&*got.lock().expect("got"), b"frame1frame9\x07");
        assert_eq!(w.skipped(), 100);
    }
}
