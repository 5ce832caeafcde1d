//! A WebSocket session's one ordered outgoing queue and the writer task that
//! drains it to the socket, shared by every session type. [`Outbox`] is the
//! sending side: byte accounting against the `ws.outgoing_bytes` budget
//! ([`Outbox::offer`] refuses a droppable frame beyond it,
//! [`Outbox::force`] always queues), the stall clock the heartbeat reads,
//! the close frame, and a [`Drained`] notice on request. [`write`] sends
//! frames one at a time (so they keep their order) until the queue closes,
//! a close frame is written, or its stop token fires.

use actix::prelude::*;
use actix::WeakRecipient;
use actix_ws::{CloseCode, CloseReason};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the writer task sends.
pub enum Outgoing {
    Text(Arc<str>),
    Ping,
    Pong(bytes::Bytes),
    Close(Option<CloseReason>),
}

/// The queue's accounting, shared by the session (and its clones of the
/// outbox) and the writer.
pub struct OutboxState {
    bytes: AtomicUsize,
    frames: AtomicUsize,
    /// When the writer last handed a frame to the socket (or the queue last
    /// became non-empty), in ms since `epoch`.
    progress_ms: AtomicU64,
    epoch: Instant,
    /// The session wants `Drained` when the queue is next empty.
    wants_drained: AtomicBool,
}

impl OutboxState {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// The sending side of a session's one ordered queue; clones share it.
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::UnboundedSender<(Outgoing, usize)>,
    state: Arc<OutboxState>,
    budget: usize,
}

impl Outbox {
    pub fn new(budget: usize) -> (Outbox, mpsc::UnboundedReceiver<(Outgoing, usize)>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let state = OutboxState {
            bytes: AtomicUsize::new(0),
            frames: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            wants_drained: AtomicBool::new(false),
        };
        (
            Outbox {
                sender,
                state: Arc::new(state),
                budget,
            },
            receiver,
        )
    }

    /// Whether a frame of `len` bytes fits the budget (an empty queue takes
    /// any one frame, so progress never stops).
    pub fn has_room(&self, len: usize) -> bool {
        let queued = self.state.bytes.load(Ordering::Relaxed);
        queued == 0 || queued + len <= self.budget
    }

    /// Queues a frame that may be dropped when the client is behind.
    pub fn offer(&self, text: Arc<str>) -> bool {
        self.has_room(text.len()) && self.force(Outgoing::Text(text))
    }

    /// Queues a frame whatever the budget; false once the writer is gone.
    pub fn force(&self, frame: Outgoing) -> bool {
        let len = match &frame {
            Outgoing::Text(text) => text.len(),
            Outgoing::Pong(bytes) => bytes.len(),
            Outgoing::Ping | Outgoing::Close(_) => 0,
        };
        self.state.bytes.fetch_add(len, Ordering::Relaxed);
        if self.state.frames.fetch_add(1, Ordering::Relaxed) == 0 {
            // The stall clock starts when there is something to read.
            self.state
                .progress_ms
                .store(self.state.now_ms(), Ordering::Relaxed);
        }
        self.sender.send((frame, len)).is_ok()
    }

    /// Queues a close frame (after everything queued before it); the
    /// writer ends once it is written.
    pub fn close(&self, code: CloseCode, description: &str) -> bool {
        self.force(Outgoing::Close(Some(CloseReason {
            code,
            description: Some(description.into()),
        })))
    }

    /// The accounting the writer task keeps (it must not hold a sender, or
    /// the queue would never close).
    pub fn state(&self) -> Arc<OutboxState> {
        self.state.clone()
    }

    /// How long frames have waited without the client taking any.
    pub fn stalled_for(&self) -> Option<Duration> {
        if self.state.frames.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let since = self
            .state
            .now_ms()
            .saturating_sub(self.state.progress_ms.load(Ordering::Relaxed));
        Some(Duration::from_millis(since))
    }

    /// Arranges for `Drained` once the queue is empty (at once if it is);
    /// the writer sends it to the recipient it was given.
    pub fn notify_when_drained<A>(&self, ctx: &mut Context<A>)
    where
        A: Actor<Context = Context<A>> + Handler<Drained>,
    {
        self.state.wants_drained.store(true, Ordering::SeqCst);
        if self.state.frames.load(Ordering::SeqCst) == 0
            && self.state.wants_drained.swap(false, Ordering::SeqCst)
        {
            ctx.notify(Drained);
        }
    }
}

/// Writes queued frames to the socket, one at a time, until the queue
/// closes, a close frame is written or `stop` fires; tells `drained` when
/// the queue empties after [`Outbox::notify_when_drained`].
pub async fn write(
    mut session: actix_ws::Session,
    mut queue: mpsc::UnboundedReceiver<(Outgoing, usize)>,
    state: Arc<OutboxState>,
    stop: CancellationToken,
    drained: Option<WeakRecipient<Drained>>,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            next = queue.recv() => next,
        };
        let Some((frame, len)) = next else { break };
        let sent = tokio::select! {
            _ = stop.cancelled() => return,
            sent = async {
                match frame {
                    Outgoing::Text(text) => session.text(text.to_string()).await,
                    Outgoing::Ping => session.ping(b"").await,
                    Outgoing::Pong(bytes) => session.pong(&bytes).await,
                    Outgoing::Close(reason) => {
                        let _ = session.clone().close(reason).await;
                        Err(actix_ws::Closed)
                    }
                }
            } => sent,
        };
        state.bytes.fetch_sub(len, Ordering::Relaxed);
        state.progress_ms.store(state.now_ms(), Ordering::Relaxed);
        let left = state.frames.fetch_sub(1, Ordering::SeqCst) - 1;
        if sent.is_err() {
            return;
        }
        if left == 0 && state.wants_drained.swap(false, Ordering::SeqCst) {
            if let Some(owner) = drained.as_ref().and_then(WeakRecipient::upgrade) {
                owner.do_send(Drained);
            }
        }
    }
    let _ = session.close(None).await;
}

/// The writer has emptied the queue (asked for with
/// [`Outbox::notify_when_drained`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drained;

/// After its session stops, how long a writer may still flush (a close
/// frame, say): a client that does not read gets no more.
pub const WRITER_GRACE: Duration = Duration::from_secs(2);

/// Stops the writer behind `stop` once [`WRITER_GRACE`] has passed; called
/// when the session stops.
pub fn stop_writer_after_grace(stop: CancellationToken) {
    actix_rt::spawn(async move {
        tokio::time::sleep(WRITER_GRACE).await;
        stop.cancel();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outbox admits frames within its budget, always admits one frame
    /// into an empty queue, and counts what waits.
    #[test]
    fn outbox_budget() {
        let (outbox, mut receiver) = Outbox::new(10);
        assert!(
            outbox.offer(Arc::from("x".repeat(50))),
            "an empty queue takes any frame"
        );
        assert!(!outbox.offer(Arc::from("y")), "over budget");
        assert!(outbox.force(Outgoing::Ping), "forced frames always go in");
        assert_eq!(outbox.state.frames.load(Ordering::Relaxed), 2);
        assert_eq!(outbox.state.bytes.load(Ordering::Relaxed), 50);
        assert!(outbox.stalled_for().is_some());
        assert!(receiver.try_recv().is_ok());
    }
}
