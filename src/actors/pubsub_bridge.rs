//! PubSubBridge: owns this API process's one Redis Pub/Sub connection and the
//! map from users to their open sessions. Handles Subscribe and Unsubscribe
//! from SessionActors and the stream of Redis messages: it SUBSCRIBEs to a
//! user's channel while that user has a session here (Subscribe replies once
//! Redis has confirmed it, so a session can say "ready" knowing no later
//! event is missed), and forwards each event text unchanged to exactly that
//! user's sessions: a session only ever receives messages of its own user's
//! channel, so no event of one user reaches another. Delivery uses
//! `try_send`: a session whose mailbox is full misses `output` chunks, never
//! `finished` (which is queued past the mailbox's capacity). Started by `app`
//! under [`super::supervisor`]; when the Redis connection drops the message
//! stream ends and the actor stops, or a handler panics: either way it is
//! restarted after the shared back-off, keeping its session map, and resubscribes every user on the new connection (events
//! published during the gap are lost; `watch` recovers a job's state).
//! A session whose actor is gone without unsubscribing (actix 0.13 runs
//! `stopped()` while it drops a panicked actor, but a panic inside
//! `stopped()` itself, or an actor dropped with its arbiter, skips it) is
//! forgotten at the next event for its user or the next sweep, every 5 s.

use super::session::Deliver;
use crate::events::EventHead;
use crate::queue::{Keys, RedisSettings};
use actix::prelude::*;
use futures_util::StreamExt;
use redis::aio::PubSubSink;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Messages the bridge's own mailbox holds (subscriptions from sessions).
const MAILBOX: usize = 4096;
/// How often sessions that are gone are swept from the map.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// One user with sessions in this process.
struct UserChannel {
    /// Tells this entry from an earlier one of the same user (a SUBSCRIBE
    /// answered after the user left and came back confirms nothing).
    generation: u64,
    sessions: HashSet<u64>,
    /// Redis has confirmed the SUBSCRIBE on the current connection.
    confirmed: bool,
    /// Sessions waiting for that confirmation.
    waiting: Vec<oneshot::Sender<()>>,
}

pub struct PubSubBridge {
    redis: RedisSettings,
    keys: Keys,
    /// Subscription commands go through the sink; `None` while (re)connecting.
    sink: Option<PubSubSink>,
    sessions: HashMap<u64, (String, Recipient<Deliver>)>,
    users: HashMap<String, UserChannel>,
    generations: u64,
}

impl PubSubBridge {
    pub fn new(redis: RedisSettings) -> PubSubBridge {
        PubSubBridge {
            keys: Keys::new(&redis.prefix),
            redis,
            sink: None,
            sessions: HashMap::new(),
            users: HashMap::new(),
            generations: 0,
        }
    }

    fn subscribe_user(&self, ctx: &mut Context<Self>, user_id: &str) {
        let Some(mut sink) = self.sink.clone() else {
            return;
        };
        let Some(generation) = self.users.get(user_id).map(|entry| entry.generation) else {
            return;
        };
        let channel = self.keys.events_channel(user_id);
        let user = user_id.to_string();
        ctx.spawn(
            async move {
                let subscribed = sink.subscribe(&channel).await;
                if let Err(error) = &subscribed {
                    tracing::warn!(%channel, %error, "SUBSCRIBE failed");
                }
                subscribed.is_ok()
            }
            .into_actor(self)
            .map(move |subscribed, bridge, _| {
                if let Some(entry) = bridge
                    .users
                    .get_mut(&user)
                    .filter(|entry| entry.generation == generation)
                {
                    entry.confirmed = subscribed;
                    // A failed SUBSCRIBE means the connection is going away;
                    // waiting sessions go ahead and the reconnect resubscribes.
                    for waiting in entry.waiting.drain(..) {
                        let _ = waiting.send(());
                    }
                }
            }),
        );
    }
}

/// A connected bridge message: one Redis Pub/Sub message.
#[derive(Message)]
#[rtype(result = "()")]
struct Published {
    channel: String,
    payload: Vec<u8>,
}

impl Actor for PubSubBridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        // Sessions that ended without Unsubscribe are dropped even if no
        // event comes.
        ctx.run_interval(SWEEP_EVERY, |bridge, ctx| {
            let gone: Vec<u64> = bridge
                .sessions
                .iter()
                .filter(|(_, (_, recipient))| !recipient.connected())
                .map(|(id, _)| *id)
                .collect();
            for session_id in gone {
                tracing::debug!(session_id, "forgetting a session that is gone");
                bridge.forget_session(ctx, session_id);
            }
        });
        let url = self.redis.url.clone();
        let connect = async move {
            let client = redis::Client::open(url.as_str())?;
            client.get_async_pubsub().await
        };
        ctx.spawn(
            connect
                .into_actor(self)
                .map(|connected, bridge, ctx| match connected {
                    Ok(pubsub) => {
                        let (sink, stream) = pubsub.split();
                        bridge.sink = Some(sink);
                        ctx.add_stream(stream.map(|msg| Published {
                            channel: msg.get_channel_name().to_string(),
                            payload: msg.get_payload_bytes().to_vec(),
                        }));
                        let users: Vec<String> = bridge.users.keys().cloned().collect();
                        for user in users {
                            bridge.subscribe_user(ctx, &user);
                        }
                        tracing::info!("pub/sub bridge connected");
                    }
                    Err(error) => {
                        tracing::error!(%error, "pub/sub bridge cannot connect; retrying");
                        ctx.stop();
                    }
                }),
        );
    }
}

impl actix::Supervised for PubSubBridge {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.sink = None;
        for user in self.users.values_mut() {
            user.confirmed = false;
        }
    }
}

impl StreamHandler<Published> for PubSubBridge {
    fn handle(&mut self, msg: Published, ctx: &mut Context<Self>) {
        let Some(user) = self.keys.user_of_channel(&msg.channel) else {
            return;
        };
        let Some(channel) = self.users.get(user) else {
            return;
        };
        let text: Arc<str> = Arc::from(String::from_utf8_lossy(&msg.payload));
        // Read once here, not once per session.
        let head = EventHead::of(&text);
        let mut gone = Vec::new();
        for session_id in &channel.sessions {
            let Some((_, recipient)) = self.sessions.get(session_id) else {
                continue;
            };
            let deliver = Deliver {
                text: text.clone(),
                head,
            };
            match recipient.try_send(deliver) {
                Ok(()) => {}
                Err(SendError::Full(deliver)) if deliver.is_final() => recipient.do_send(deliver),
                Err(SendError::Full(_)) => tracing::debug!(
                    session_id,
                    user,
                    "session mailbox full; dropped an output event"
                ),
                // A session that died without unregistering.
                Err(SendError::Closed(_)) => gone.push(*session_id),
            }
        }
        for session_id in gone {
            tracing::debug!(session_id, "forgetting a session that is gone");
            self.forget_session(ctx, session_id);
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!("pub/sub connection lost; reconnecting");
        ctx.stop();
    }
}

/// Route `user_id`'s events to this session until it unsubscribes; replies
/// once the user's channel is subscribed (at once when Redis is away: the
/// reconnect subscribes it).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub session_id: u64,
    pub user_id: String,
    pub recipient: Recipient<Deliver>,
}

/// The session has ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session_id: u64,
}

impl Handler<Subscribe> for PubSubBridge {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) -> Self::Result {
        let connected = self.sink.is_some();
        let generations = &mut self.generations;
        let user = self.users.entry(msg.user_id.clone()).or_insert_with(|| {
            *generations += 1;
            UserChannel {
                generation: *generations,
                sessions: HashSet::new(),
                confirmed: false,
                waiting: Vec::new(),
            }
        });
        let first = user.sessions.is_empty();
        user.sessions.insert(msg.session_id);
        let confirmed = if user.confirmed || !connected {
            None
        } else {
            let (sender, receiver) = oneshot::channel();
            user.waiting.push(sender);
            Some(receiver)
        };
        self.sessions
            .insert(msg.session_id, (msg.user_id.clone(), msg.recipient));
        if first && connected {
            self.subscribe_user(ctx, &msg.user_id);
        }
        Box::pin(async move {
            if let Some(confirmed) = confirmed {
                let _ = confirmed.await;
            }
        })
    }
}

impl Handler<Unsubscribe> for PubSubBridge {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Context<Self>) {
        self.forget_session(ctx, msg.session_id);
    }
}

impl PubSubBridge {
    /// Drops a session, and the user's subscription with its last one.
    fn forget_session(&mut self, ctx: &mut Context<Self>, session_id: u64) {
        let Some((user, _)) = self.sessions.remove(&session_id) else {
            return;
        };
        let last = match self.users.get_mut(&user) {
            Some(entry) => {
                entry.sessions.remove(&session_id);
                entry.sessions.is_empty()
            }
            None => false,
        };
        if last {
            self.users.remove(&user);
            if let Some(mut sink) = self.sink.clone() {
                let channel = self.keys.events_channel(&user);
                ctx.spawn(
                    async move {
                        if let Err(error) = sink.unsubscribe(&channel).await {
                            tracing::debug!(%channel, %error, "UNSUBSCRIBE failed");
                        }
                    }
                    .into_actor(self),
                );
            }
        }
    }
}
