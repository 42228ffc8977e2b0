//! Signals that end fleetop: Ctrl-C, SIGTERM, SIGHUP. An edge: every front end waits on
//! the same future and then restores what it took (the terminal, a half-written line).

/// Resolves when the user or the system asks fleetop to stop: Ctrl-C, SIGTERM, SIGHUP.
/// The handlers are installed when this is called, not when first polled: a signal that
/// comes before the first poll must still stop fleetop cleanly (terminal restored).
pub fn shutdown() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        )
    };
    async move {
        #[cfg(unix)]
        if let (Ok(mut int), Ok(mut term), Ok(mut hup)) = streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
