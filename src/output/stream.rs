//! Lines to a pipe that may stop reading: a bounded queue in front of a writer thread, so
//! a stalled consumer (`| less` left open, a full disk behind a redirect) holds up neither
//! the core nor the loop that produces lines. What does not fit is counted and said, as
//! an `output_dropped` line, on the next line the pipe takes.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Lines waiting for the pipe, at most; past that they are counted, not kept.
pub const QUEUE_LINES: usize = 65_536;

/// The producing side of a bounded line stream.
pub struct LineStream {
    tx: Option<SyncSender<String>>,
    /// The reader went away (EPIPE): there is no point producing more.
    gone: Arc<AtomicBool>,
    /// Lines dropped since the last one the queue took.
    lost: u64,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl LineStream {
    /// Starts the writer thread on `out`, with room for `capacity` lines.
    pub fn start(out: impl Write + Send + 'static, capacity: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(capacity);
        let gone = Arc::new(AtomicBool::new(false));
        let thread_gone = gone.clone();
        let writer = std::thread::Builder::new()
            .name("fleetop-out".into())
            .spawn(move || write_lines(out, rx, &thread_gone))?;
        Ok(LineStream {
            tx: Some(tx),
            gone,
            lost: 0,
            writer: Some(writer),
        })
    }

    /// Queues one line; `dropped_note` makes the line that says how many were dropped
    /// before it. False once the reader has gone away.
    pub fn line(&mut self, line: String, dropped_note: impl FnOnce(u64) -> String) -> bool {
        if self.gone.load(Ordering::Acquire) {
            return false;
        }
        let Some(tx) = &self.tx else { return false };
        if self.lost > 0 {
            match tx.try_send(dropped_note(self.lost)) {
                Ok(()) => self.lost = 0,
                Err(TrySendError::Full(_)) => {
                    self.lost += 1;
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        match tx.try_send(line) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.lost += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Lines dropped and not yet said.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Lets the writer finish what is queued, waiting at most `patience` for a pipe that
    /// does not read.
    pub fn finish(mut self, patience: std::time::Duration) {
        self.tx = None;
        let Some(writer) = self.writer.take() else {
            return;
        };
        let deadline = std::time::Instant::now() + patience;
        while !writer.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if writer.is_finished() {
            let _ = writer.join();
        }
    }
}

fn write_lines(out: impl Write, rx: Receiver<String>, gone: &AtomicBool) {
    let mut out = std::io::BufWriter::new(out);
    while let Ok(first) = rx.recv() {
        // Write what is queued, then flush once: one syscall per burst, not per line.
        let mut written = writeln!(out, "{first}");
        while written.is_ok() {
            match rx.try_recv() {
                Ok(line) => written = writeln!(out, "{line}"),
                Err(_) => break,
            }
        }
        if written.and_then(|()| out.flush()).is_err() {
            gone.store(true, Ordering::Release);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe that takes nothing until released (saying when it starts to wait), then
    /// keeps what it gets.
    struct Stalled {
        waiting: std::sync::mpsc::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
        got: Arc<std::sync::Mutex<Vec<u8>>>,
        waited: bool,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if !self.waited {
                let _ = self.waiting.send(());
                let _ = self.release.recv();
                self.waited = true;
            }
            self.got.lock().expect("got").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        // A deadline for a broken test, not a timing check.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "never {what}");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn a_stalled_pipe_costs_lines_that_are_counted_and_said_on_the_next_one() {
        let (waiting, writer_waits) = std::sync::mpsc::channel();
        let (release, rx) = std::sync::mpsc::channel();
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let pipe = Stalled {
            waiting,
            release: rx,
            got: got.clone(),
            waited: false,
        };
        let text = || String::from_utf8(got.lock().expect("got").clone()).expect("utf8");
        let mut stream = LineStream::start(pipe, 4).expect("stream");
        let note = |n: u64| format!("dropped {n}");
        assert!(stream.line("line 0".into(), note));
        writer_waits
            .recv()
            .expect("the writer took line 0 and waits");
        // The queue holds four more; the rest are counted, and nothing blocks.
        for i in 1..20 {
            assert!(stream.line(format!("line {i}"), note));
        }
        assert_eq!(stream.lost(), 15);
        release.send(()).expect("release");
        wait_until("caught up", || text().contains("line 4\n"));
        assert!(stream.line("after".into(), note));
        assert_eq!(stream.lost(), 0);
        stream.finish(std::time::Duration::from_secs(10));
        let text = text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "line 0",
                "line 1",
                "line 2",
                "line 3",
                "line 4",
                "dropped 15",
                "after"
            ]
        );
    }
}
