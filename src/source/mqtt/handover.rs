//! Messages from the socket to the core.

use crate::source::Outlet;
use crate::vocab::RawMessage;

/// Awaits `poll`; whenever it has to wait for the socket, first delivers what has arrived.
/// Messages thus reach the core in bursts, and none is held back while the link is idle.
pub(super) async fn delivering_while_idle<F: std::future::Future>(
    poll: F,
    outlet: &Outlet,
    arrived: &mut Vec<RawMessage>,
) -> F::Output {
    let mut poll = std::pin::pin!(poll);
    std::future::poll_fn(|cx| {
        let polled = poll.as_mut().poll(cx);
        if polled.is_pending() {
            outlet.deliver(arrived);
        }
        polled
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn collected_messages_go_to_the_core_once_the_socket_has_nothing_ready() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let outlet = Outlet::new(0, tx);
        let mut arrived = vec![RawMessage {
            conn: 0,
            topic: Bytes::from_static(b"t"),
            payload: Bytes::from_static(b"1"),
            retain: false,
            at_ms: 7,
        }];
        // Ready at once: nothing is handed over yet.
        let got = delivering_while_idle(async { 1 }, &outlet, &mut arrived).await;
        assert_eq!((got, arrived.len()), (1, 1));
        assert!(rx.try_recv().is_err());
        // Has to wait (yields once): the collected message goes first.
        let waits = async {
            tokio::task::yield_now().await;
            2
        };
        let got = delivering_while_idle(waits, &outlet, &mut arrived).await;
        assert_eq!((got, arrived.len()), (2, 0));
        let Ok(crate::source::SourceEvent::Messages(mailbox)) = rx.try_recv() else {
            panic!("nothing was handed over while the poll waited");
        };
        let mut taken = Vec::new();
        mailbox.take(&mut taken);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].at_ms, 7);
    }
}
