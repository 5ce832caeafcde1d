//! The supervisor every long-lived actor runs under (StreamConsumer,
//! WorkerPool, JobControl, PubSubBridge, StoreActor, CallbackDispatcher), and
//! the liveness registry `/healthz` and `/readyz` read.
//!
//! actix's own `Supervisor` restarts an actor that stops, but a panic in a
//! handler or in one of the actor's futures unwinds through it and ends the
//! actor, its supervisor and its mailbox for good (actix/actix#158). This one
//! polls the actor's `ContextFut` inside `catch_unwind`: after a panic, or
//! when the actor stops, it calls `Supervised::restarting` and starts the
//! actor again on the same mailbox, so every `Addr` held elsewhere keeps
//! working and queued messages are kept. Restarts wait the shared
//! [`crate::backoff`] (reset after a healthy period) and are counted in
//! `rce_actor_restarts_total{actor}`. Futures the actor spawned on its context
//! are dropped by a restart, so work that must survive one (a running job, an
//! ack) runs as its own task.
//!
//! Each supervised actor has an [`ActorHealth`] in a process-wide registry
//! (one per actor name; a process runs each actor once): the supervisor beats
//! every [`BEAT`] while it is polled, and actors with a loop of their own
//! (StreamConsumer's read loop) report progress. The supervisor holds an address of its actor, so it restarts it
//! whoever else still holds one; an actor whose supervisor ended (its
//! arbiter died) is `dead`; one whose beat or
//! progress is older than the bound is `wedged`.

use super::settings::SupervisionSettings;
use crate::backoff::Backoff;
use actix::dev::ContextFut;
use actix::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{self, Poll};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

static WEDGED_AFTER_MS: AtomicU64 = AtomicU64::new(30_000);

/// Applies `settings` to the health reports of this process.
pub fn configure(settings: &SupervisionSettings) {
    WEDGED_AFTER_MS.store(settings.wedged_after_ms, Ordering::SeqCst);
}

/// How often a live supervisor stamps its actor's beat.
pub const BEAT: Duration = Duration::from_millis(500);

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
static ACTORS: LazyLock<Mutex<BTreeMap<&'static str, Arc<ActorHealth>>>> =
    LazyLock::new(Default::default);

fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One supervised actor's liveness.
#[derive(Debug)]
pub struct ActorHealth {
    name: &'static str,
    alive: AtomicBool,
    restarting: AtomicBool,
    last_beat_ms: AtomicU64,
    /// Set by actors with a loop of their own; 0 when they report none.
    last_progress_ms: AtomicU64,
    restarts: AtomicU64,
}

impl ActorHealth {
    fn new(name: &'static str) -> ActorHealth {
        ActorHealth {
            name,
            alive: AtomicBool::new(false),
            restarting: AtomicBool::new(false),
            last_beat_ms: AtomicU64::new(now_ms()),
            last_progress_ms: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        }
    }

    fn beat(&self) {
        self.last_beat_ms.store(now_ms(), Ordering::SeqCst);
    }

    /// The actor's own loop went round once (it is not wedged).
    pub fn progress(&self) {
        self.last_progress_ms.store(now_ms(), Ordering::SeqCst);
    }

    /// The actor's own loop has ended for good (shutdown): its progress is
    /// no longer watched.
    pub fn loop_ended(&self) {
        self.last_progress_ms.store(0, Ordering::SeqCst);
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    fn status(&self, wedged_after: Duration) -> ActorStatus {
        let now = now_ms();
        let bound = u64::try_from(wedged_after.as_millis()).unwrap_or(u64::MAX);
        let stale = |at: u64| at != 0 && now.saturating_sub(at) > bound;
        let state = if !self.alive.load(Ordering::SeqCst) {
            ActorState::Dead
        } else if self.restarting.load(Ordering::SeqCst) {
            ActorState::Restarting
        } else if stale(self.last_beat_ms.load(Ordering::SeqCst))
            || stale(self.last_progress_ms.load(Ordering::SeqCst))
        {
            ActorState::Wedged
        } else {
            ActorState::Running
        };
        ActorStatus {
            actor: self.name.to_string(),
            state,
            restarts: self.restarts(),
        }
    }
}

/// The registry entry for `name` (created on first use).
pub fn health(name: &'static str) -> Arc<ActorHealth> {
    let mut actors = ACTORS.lock().unwrap_or_else(|p| p.into_inner());
    actors
        .entry(name)
        .or_insert_with(|| Arc::new(ActorHealth::new(name)))
        .clone()
}

/// What an actor is doing, as `/healthz` and `/readyz` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    Running,
    /// Waiting out its back-off after a panic or a stop.
    Restarting,
    /// Its supervisor has ended: nothing will restart it.
    Dead,
    /// Alive but its beat or its own loop is older than the bound.
    Wedged,
}

/// One supervised actor in a health report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActorStatus {
    pub actor: String,
    pub state: ActorState,
    pub restarts: u64,
}

/// Every supervised actor of this process, judged by the configured bound.
pub fn statuses() -> Vec<ActorStatus> {
    report(Duration::from_millis(
        WEDGED_AFTER_MS.load(Ordering::SeqCst),
    ))
}

/// Every supervised actor of this process.
pub fn report(wedged_after: Duration) -> Vec<ActorStatus> {
    let actors = ACTORS.lock().unwrap_or_else(|p| p.into_inner());
    actors
        .values()
        .map(|health| health.status(wedged_after))
        .collect()
}

/// Starts `A` under a panic-catching supervisor named `name` (the `actor`
/// label of its metrics and health entry).
pub fn start<A, F>(name: &'static str, f: F) -> Addr<A>
where
    A: actix::Supervised + Actor<Context = Context<A>>,
    F: FnOnce(&mut Context<A>) -> A,
{
    let mut ctx = Context::new();
    let actor = f(&mut ctx);
    let address = ctx.address();
    let health = health(name);
    health.alive.store(true, Ordering::SeqCst);
    health.restarting.store(false, Ordering::SeqCst);
    health.beat();
    actix_rt::spawn(Supervising {
        name,
        _address: address.clone(),
        fut: Some(Box::pin(ctx.into_future(actor))),
        health,
        backoff: Backoff::default(),
        pause: None,
        beat: tokio::time::interval(BEAT),
    });
    address
}

/// A supervised actor's context, driven by [`Supervising`].
type ActorFuture<A> = Pin<Box<ContextFut<A, Context<A>>>>;

struct Supervising<A>
where
    A: actix::Supervised + Actor<Context = Context<A>>,
{
    name: &'static str,
    /// Held so the actor always has an address and is always restarted
    /// (actix restarts only actors someone can still reach).
    _address: Addr<A>,
    /// The actor's context; `None` only once dropped (see `Drop`).
    fut: Option<ActorFuture<A>>,
    health: Arc<ActorHealth>,
    backoff: Backoff,
    /// The back-off before the next start, while it runs.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    beat: tokio::time::Interval,
}

impl<A> Future for Supervising<A>
where
    A: actix::Supervised + Actor<Context = Context<A>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        crate::fault::wedge(this.name);
        while this.beat.poll_tick(cx).is_ready() {
            this.health.beat();
        }
        loop {
            if let Some(pause) = &mut this.pause {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.pause = None;
                this.health.restarting.store(false, Ordering::SeqCst);
                this.health.progress_reset();
            }
            let Some(fut) = this.fut.as_mut() else {
                return Poll::Ready(());
            };
            let name = this.name;
            let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
                crate::fault::trip(name);
                fut.as_mut().poll(cx)
            }));
            match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(())) => {
                    tracing::warn!(actor = name, "actor stopped; restarting it")
                }
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(actor = name, panic = %message, "actor panicked; restarting it");
                }
            }
            if !this.fut.as_mut().is_some_and(|fut| fut.restart()) {
                // Unreachable while `_address` is held.
                this.health.alive.store(false, Ordering::SeqCst);
                return Poll::Ready(());
            }
            this.health.restarts.fetch_add(1, Ordering::SeqCst);
            this.health.restarting.store(true, Ordering::SeqCst);
            crate::metrics::actor_restarted(name);
            let delay = this.backoff.fail();
            tracing::info!(
                actor = name,
                delay_ms = delay.as_millis() as u64,
                failures = this.backoff.failures(),
                "restarting after back-off"
            );
            this.pause = Some(Box::pin(tokio::time::sleep(delay)));
        }
    }
}

impl ActorHealth {
    /// A restarted actor's own loop has not run yet; its progress counts
    /// from now.
    fn progress_reset(&self) {
        if self.last_progress_ms.load(Ordering::SeqCst) != 0 {
            self.progress();
        }
    }
}

impl<A> Drop for Supervising<A>
where
    A: actix::Supervised + Actor<Context = Context<A>>,
{
    fn drop(&mut self) {
        self.health.alive.store(false, Ordering::SeqCst);
        if self.pause.is_some() {
            // Restarted but not yet started: dropping the context would poll
            // it once more, running the actor's `started` (which sets timers)
            // while the runtime is being torn down, a panic at shutdown. The
            // process is ending; the context is left to it.
            if let Some(fut) = self.fut.take() {
                std::mem::forget(fut);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Crashy {
        starts: Arc<AtomicU64>,
    }

    impl Actor for Crashy {
        type Context = Context<Self>;
        fn started(&mut self, _: &mut Context<Self>) {
            self.starts.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl actix::Supervised for Crashy {}

    #[derive(Message)]
    #[rtype(result = "u64")]
    struct Poke {
        panic: bool,
    }

    impl Handler<Poke> for Crashy {
        type Result = u64;
        fn handle(&mut self, msg: Poke, _: &mut Context<Self>) -> u64 {
            assert!(!msg.panic, "poked to panic");
            self.starts.load(Ordering::SeqCst)
        }
    }

    /// A panicking handler does not end the actor: it is started again on
    /// the same address, the restart is counted and the health entry says
    /// running.
    #[actix_rt::test]
    async fn a_panicking_actor_is_restarted_on_the_same_address() {
        let starts = Arc::new(AtomicU64::new(0));
        let address = start("test_crashy", {
            let starts = starts.clone();
            move |_| Crashy { starts }
        });
        assert_eq!(address.send(Poke { panic: false }).await.unwrap(), 1);
        assert!(address.send(Poke { panic: true }).await.is_err());
        let restarted = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(n) = address.send(Poke { panic: false }).await {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("restarted within 5 s");
        assert_eq!(restarted, 2);
        let status = report(Duration::from_secs(30))
            .into_iter()
            .find(|s| s.actor == "test_crashy")
            .unwrap();
        assert_eq!(status.state, ActorState::Running);
        assert_eq!(status.restarts, 1);
    }
}
