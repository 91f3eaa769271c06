//! Pub/Sub: channel and pattern subscriptions, and PUBLISH delivering to them.
//!
//! A client's subscriptions are recorded on its `Client` when its (P)SUBSCRIBE runs, so the
//! confirmations count them; the registry here starts delivering to it only once the worker
//! has written those confirmations (`activate`), so a message never overtakes the reply
//! that announced the subscription. Unsubscribing takes effect at once. Messages go straight
//! to each subscriber's socket through its reply sink, encoded for its protocol (arrays in
//! RESP2, push frames in RESP3).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use super::client::Client;
use crate::resp::Reply;
use crate::util::glob::glob_match;

/// What one client is subscribed to.
#[derive(Debug, Default, Clone)]
pub struct Subscriptions {
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
    /// Shard channels (SSUBSCRIBE), a namespace of their own.
    pub shard_channels: BTreeSet<Bytes>,
    /// Set when (P)SUBSCRIBE added something the registry does not deliver to yet.
    pub pending: bool,
}

impl Subscriptions {
    /// The count Redis reports in (un)subscribe confirmations.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription of any kind: the client is in subscribed mode while it is not 0.
    pub fn total(&self) -> usize {
        self.count() + self.shard_channels.len()
    }
}

type Subscribers = HashMap<u64, Weak<Client>>;

#[derive(Default)]
struct Registry {
    channels: HashMap<Bytes, Subscribers>,
    patterns: HashMap<Bytes, Subscribers>,
    shard_channels: HashMap<Bytes, Subscribers>,
}

/// The server's subscriptions.
#[derive(Default)]
pub struct PubSub {
    registry: Mutex<Registry>,
}

/// Hands each live subscriber of `subs` to `found`, dropping the closed ones.
fn live_subscribers(subs: &mut Subscribers, mut found: impl FnMut(Arc<Client>)) {
    subs.retain(|_, c| match c.upgrade() {
        Some(c) => {
            found(c);
            true
        }
        None => false,
    });
}

/// Sends a message frame straight to a subscriber's socket, in its protocol.
fn push_to(client: &Client, frame: Vec<Reply>) {
    let mut out = BytesMut::new();
    Reply::Push(frame).encode(&mut out, client.protocol());
    if let Some(sink) = client.sink.get().and_then(Weak::upgrade) {
        sink.push(&out);
    }
}

/// The names in `map` matching `pattern` (all without one), sorted.
fn names_matching(map: &HashMap<Bytes, Subscribers>, pattern: Option<&[u8]>) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = map
        .keys()
        .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect();
    out.sort();
    out
}

fn forget(map: &mut HashMap<Bytes, Subscribers>, name: &Bytes, id: u64) {
    if let Some(subs) = map.get_mut(name) {
        subs.remove(&id);
        if subs.is_empty() {
            map.remove(name);
        }
    }
}

impl PubSub {
    /// Starts delivering to everything `client` has subscribed to (after its confirmations
    /// were written).
    pub fn activate(&self, client: &Arc<Client>) {
        let subs = {
            let mut s = client.subscriptions.lock();
            if !s.pending {
                return;
            }
            s.pending = false;
            s.clone()
        };
        let mut r = self.registry.lock();
        let r = &mut *r;
        for (names, map) in [
            (subs.channels, &mut r.channels),
            (subs.patterns, &mut r.patterns),
            (subs.shard_channels, &mut r.shard_channels),
        ] {
            for name in names {
                map.entry(name)
                    .or_default()
                    .insert(client.id, Arc::downgrade(client));
            }
        }
    }

    /// Stops delivering shard `channels` to client `id`.
    pub fn deactivate_shard(&self, id: u64, channels: &[Bytes]) {
        let mut r = self.registry.lock();
        for ch in channels {
            forget(&mut r.shard_channels, ch, id);
        }
    }

    /// SPUBLISH: sends `message` to the subscribers of shard channel `channel`.
    pub fn spublish(&self, channel: &Bytes, message: &Bytes) -> usize {
        let mut targets: Vec<Arc<Client>> = Vec::new();
        if let Some(subs) = self.registry.lock().shard_channels.get_mut(channel) {
            live_subscribers(subs, |c| targets.push(c));
        }
        for client in &targets {
            push_to(
                client,
                vec![
                    Reply::bulk_from_slice(b"smessage"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ],
            );
        }
        targets.len()
    }

    /// PUBSUB SHARDCHANNELS [pattern]: shard channels with at least one subscriber.
    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        names_matching(&self.registry.lock().shard_channels, pattern)
    }

    /// PUBSUB SHARDNUMSUB: subscribers of one shard channel.
    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        self.registry
            .lock()
            .shard_channels
            .get(channel)
            .map_or(0, |s| s.len())
    }

    /// Stops delivering `channels` and `patterns` to client `id`.
    pub fn deactivate(&self, id: u64, channels: &[Bytes], patterns: &[Bytes]) {
        let mut r = self.registry.lock();
        for ch in channels {
            forget(&mut r.channels, ch, id);
        }
        for p in patterns {
            forget(&mut r.patterns, p, id);
        }
    }

    /// PUBLISH: sends `message` to every subscriber of `channel` and of a pattern matching
    /// it; returns how many deliveries were made.
    pub fn publish(&self, channel: &Bytes, message: &Bytes) -> usize {
        let mut targets: Vec<(Arc<Client>, Option<Bytes>)> = Vec::new();
        {
            let mut r = self.registry.lock();
            if let Some(subs) = r.channels.get_mut(channel) {
                live_subscribers(subs, |c| targets.push((c, None)));
            }
            for (pattern, subs) in r.patterns.iter_mut() {
                if glob_match(pattern, channel, false) {
                    live_subscribers(subs, |c| targets.push((c, Some(pattern.clone()))));
                }
            }
        }
        for (client, pattern) in &targets {
            let frame = match pattern {
                None => vec![
                    Reply::bulk_from_slice(b"message"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ],
                Some(p) => vec![
                    Reply::bulk_from_slice(b"pmessage"),
                    Reply::Bulk(p.clone()),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ],
            };
            push_to(client, frame);
        }
        targets.len()
    }

    /// PUBSUB CHANNELS [pattern]: channels with at least one subscriber.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        names_matching(&self.registry.lock().channels, pattern)
    }

    /// PUBSUB NUMSUB: subscribers of one channel.
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.registry
            .lock()
            .channels
            .get(channel)
            .map_or(0, |s| s.len())
    }

    /// PUBSUB NUMPAT: patterns with at least one subscriber.
    pub fn numpat(&self) -> usize {
        self.registry.lock().patterns.len()
    }

    /// Drops every subscription of a closed client.
    pub fn remove_client(&self, client: &Client) {
        let subs = client.update_subscriptions(std::mem::take);
        let channels: Vec<Bytes> = subs.channels.into_iter().collect();
        let patterns: Vec<Bytes> = subs.patterns.into_iter().collect();
        let shard: Vec<Bytes> = subs.shard_channels.into_iter().collect();
        self.deactivate(client.id, &channels, &patterns);
        self.deactivate_shard(client.id, &shard);
    }
}
