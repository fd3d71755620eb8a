//! `KeyPool`: one per provider. It owns the provider's upstream keys and their health, and
//! publishes them as a `KeySet` that request handlers read without a message: key choice,
//! cooldowns and counters are atomics, so choosing a key costs no actor round trip.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;

use crate::routing::strategy::{order, Strategy};
use crate::store::providers::KeyRecord;
use crate::time::now_ms;

/// One key and its health.
pub struct KeySlot {
    pub record: KeyRecord,
    cooldown_until_ms: AtomicI64,
    successes: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl KeySlot {
    fn new(record: KeyRecord) -> KeySlot {
        KeySlot {
            record,
            cooldown_until_ms: AtomicI64::new(0),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    fn cooling(&self, now: i64) -> bool {
        self.cooldown_until_ms.load(Ordering::Relaxed) > now
    }
}

/// A provider's keys as the request path sees them.
pub struct KeySet {
    provider: String,
    strategy: Strategy,
    cooldown: Duration,
    keys: Vec<Arc<KeySlot>>,
    counter: AtomicU64,
}

/// A key chosen for one attempt.
#[derive(Clone)]
pub struct PickedKey {
    pub id: i32,
    pub secret: Arc<str>,
}

/// What happened to an attempt made with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The upstream answered (2xx, or a 4xx about the request rather than the key).
    Ok,
    /// 429: cooled down.
    RateLimited,
    /// 401/403: cooled down.
    Refused,
    /// Could not connect: cooled down.
    Unreachable,
    /// 5xx or a timeout: counted, not cooled down.
    Failed,
}

impl KeySet {
    /// Builds a set from stored keys, carrying over the health of keys `previous` had.
    pub fn new(
        provider: String,
        strategy: Strategy,
        cooldown: Duration,
        records: Vec<KeyRecord>,
        previous: Option<&KeySet>,
    ) -> KeySet {
        let keys = records
            .into_iter()
            .map(|record| {
                let old = previous.and_then(|p| p.keys.iter().find(|k| k.record.id == record.id));
                let slot = KeySlot::new(record);
                if let Some(old) = old {
                    let copy = |a: &AtomicI64, b: &AtomicI64| {
                        a.store(b.load(Ordering::Relaxed), Ordering::Relaxed)
                    };
                    copy(&slot.cooldown_until_ms, &old.cooldown_until_ms);
                    slot.successes
                        .store(old.successes.load(Ordering::Relaxed), Ordering::Relaxed);
                    slot.failures
                        .store(old.failures.load(Ordering::Relaxed), Ordering::Relaxed);
                    *slot.last_error.lock().unwrap() = old.last_error.lock().unwrap().clone();
                }
                Arc::new(slot)
            })
            .collect();
        KeySet {
            provider,
            strategy,
            cooldown,
            keys,
            counter: AtomicU64::new(previous.map_or(0, |p| p.counter.load(Ordering::Relaxed))),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn enabled_len(&self) -> usize {
        self.keys.iter().filter(|k| k.record.enabled).count()
    }

    /// Chooses a usable key (enabled, not cooling down, not in `exclude`) by the strategy.
    pub fn pick(&self, exclude: &[i32]) -> Option<PickedKey> {
        let now = now_ms();
        let usable: Vec<&Arc<KeySlot>> = self
            .keys
            .iter()
            .filter(|k| k.record.enabled && !k.cooling(now) && !exclude.contains(&k.record.id))
            .collect();
        let key = match usable.len() {
            0 => return None,
            1 => usable[0],
            n => {
                let weights: Vec<u32> = usable.iter().map(|k| k.record.weight).collect();
                let mut counter = match self.strategy {
                    Strategy::RoundRobin => self.counter.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                usable[order(self.strategy, &weights, &mut counter)[0] % n]
            }
        };
        Some(PickedKey {
            id: key.record.id,
            secret: key.record.secret.clone(),
        })
    }

    /// Records an attempt's outcome: counts it, and cools the key down after 429, 401/403 or
    /// a connection failure.
    pub fn report(&self, key_id: i32, outcome: KeyOutcome, detail: Option<String>) {
        let Some(key) = self.keys.iter().find(|k| k.record.id == key_id) else {
            return;
        };
        if outcome == KeyOutcome::Ok {
            key.successes.fetch_add(1, Ordering::Relaxed);
            return;
        }
        key.failures.fetch_add(1, Ordering::Relaxed);
        *key.last_error.lock().unwrap() = detail;
        if matches!(
            outcome,
            KeyOutcome::RateLimited | KeyOutcome::Refused | KeyOutcome::Unreachable
        ) {
            key.cooldown_until_ms.store(
                now_ms() + self.cooldown.as_millis() as i64,
                Ordering::Relaxed,
            );
            log::warn!(
                "provider {} key {} cooled down for {}s ({outcome:?})",
                self.provider,
                key_id,
                self.cooldown.as_secs()
            );
        }
    }

    /// The keys as the admin API shows them: never the secret.
    pub fn views(&self) -> Vec<KeyView> {
        let now = now_ms();
        self.keys
            .iter()
            .map(|k| {
                let until = k.cooldown_until_ms.load(Ordering::Relaxed);
                KeyView {
                    id: k.record.id,
                    masked_key: k.record.masked_key.clone(),
                    description: k.record.description.clone(),
                    weight: k.record.weight,
                    enabled: k.record.enabled,
                    cooling_down: until > now,
                    cooldown_remaining_secs: ((until - now).max(0) as u64).div_ceil(1000),
                    successes: k.successes.load(Ordering::Relaxed),
                    failures: k.failures.load(Ordering::Relaxed),
                    last_error: k.last_error.lock().unwrap().clone(),
                    created_at: crate::time::to_rfc3339(k.record.created_at),
                }
            })
            .collect()
    }
}

/// A key as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub id: i32,
    pub masked_key: String,
    pub description: Option<String>,
    pub weight: u32,
    pub enabled: bool,
    pub cooling_down: bool,
    pub cooldown_remaining_secs: u64,
    pub successes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    pub created_at: String,
}

/// The actor that owns a provider's key set: the registry hands it each new set, and it
/// answers health questions for the admin API.
pub struct KeyPool {
    keys: Arc<KeySet>,
}

impl KeyPool {
    pub fn new(keys: Arc<KeySet>) -> KeyPool {
        KeyPool { keys }
    }
}

impl Actor for KeyPool {
    type Context = Context<Self>;
}

/// Replaces the key set after a reload.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetKeys(pub Arc<KeySet>);

impl Handler<SetKeys> for KeyPool {
    type Result = ();

    fn handle(&mut self, msg: SetKeys, _: &mut Context<Self>) {
        self.keys = msg.0;
    }
}

#[derive(Message)]
#[rtype(result = "Vec<KeyView>")]
pub struct ListKeys;

impl Handler<ListKeys> for KeyPool {
    type Result = MessageResult<ListKeys>;

    fn handle(&mut self, _: ListKeys, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.keys.views())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i32) -> KeyRecord {
        KeyRecord {
            id,
            provider_id: 1,
            secret: Arc::from(format!("sk-{id}")),
            masked_key: "****".into(),
            description: None,
            weight: 1,
            enabled: true,
            created_at: 0,
        }
    }

    fn set(previous: Option<&KeySet>) -> KeySet {
        KeySet::new(
            "p".into(),
            Strategy::RoundRobin,
            Duration::from_secs(30),
            vec![record(1), record(2)],
            previous,
        )
    }

    #[test]
    fn round_robin_exclusion_and_cooldown() {
        let keys = set(None);
        let picks: Vec<i32> = (0..4).map(|_| keys.pick(&[]).unwrap().id).collect();
        assert_eq!(picks, vec![1, 2, 1, 2]);
        assert_eq!(keys.pick(&[1]).unwrap().id, 2);
        assert!(keys.pick(&[1, 2]).is_none());
        keys.report(1, KeyOutcome::RateLimited, Some("429".into()));
        assert!((0..4).all(|_| keys.pick(&[]).unwrap().id == 2));
        keys.report(2, KeyOutcome::Failed, None);
        assert_eq!(keys.pick(&[]).unwrap().id, 2, "5xx does not cool down");
        let views = keys.views();
        assert!(views[0].cooling_down && views[0].cooldown_remaining_secs == 30);
        assert_eq!(views[0].last_error.as_deref(), Some("429"));
        assert_eq!(views[1].failures, 1);
        // A rebuilt set keeps the health of the keys it still has.
        let next = set(Some(&keys));
        assert!(next.views()[0].cooling_down);
    }
}
