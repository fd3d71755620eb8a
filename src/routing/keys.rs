//! `KeySet`: one per provider, built by the `ProviderRegistry` from the stored keys. It owns
//! each key's health — cool-down, breaker, recovery probe, counters — as atomics that the
//! calls using the key read and write directly: choosing a key and reporting an attempt's
//! outcome cost a few atomic operations, never a message (README, "Key health").

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use super::key_outcome::KeyOutcome;

use parking_lot::Mutex;

use crate::core::strategy::{order, Strategy};
use crate::store::providers::KeyRecord;
use crate::time::now_ms;

/// Longest cool-down a failing key's doubling reaches.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// A half-open probe that never reported back (its call was dropped) frees the key after
/// this long.
const PROBE_TIMEOUT_MS: i64 = 120_000;
/// Recovery probes of a cooling key start at most this often.
const PROBE_SPACING_MS: i64 = 1000;

/// How keys are cooled down.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// After 429 (without Retry-After), 401/403, or a tripped breaker.
    pub cooldown: Duration,
    /// Consecutive failures (5xx, timeouts, connection errors) that trip the breaker.
    pub failure_threshold: u32,
    /// After an out-of-quota answer.
    pub quota_cooldown: Duration,
}

/// One key: its stored record and its health. The health outlives rebuilds of the set (a
/// changed key list, a sync): a new set shares it with the old one, so a call still holding
/// the old set reports to the same counters, probe and cool-down.
pub struct KeySlot {
    pub record: KeyRecord,
    health: Arc<KeyHealth>,
}

impl std::ops::Deref for KeySlot {
    type Target = KeyHealth;

    fn deref(&self) -> &KeyHealth {
        &self.health
    }
}

/// How far a cool-down read back from the database may be off the one a recovery probe
/// ended and still be the same (the exchange turns absolute times into remaining ones).
const ADOPT_TOLERANCE_MS: i64 = 1000;

/// A key's health: atomics, read and written by calls without a message.
#[derive(Default)]
pub struct KeyHealth {
    cooldown_until_ms: AtomicI64,
    /// The cool-down a recovery probe here ended: the same cool-down read back from the
    /// other instances (before they learn of the recovery) is not adopted again.
    recovered_from_ms: AtomicI64,
    /// Failures in a row; at `failure_threshold` the breaker is open (then half-open once
    /// the cool-down has passed).
    consecutive_failures: AtomicU32,
    /// How often the breaker re-opened after a failed probe (doubles the cool-down).
    reopened: AtomicU32,
    /// When the half-open probe in flight started; 0: none.
    probe_since_ms: AtomicI64,
    /// The cool-down is a bench for an exhausted quota: no probe is sent before it ends.
    benched: AtomicBool,
    /// When the last recovery probe of a cooling key started.
    last_probe_ms: AtomicI64,
    successes: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl KeySlot {
    fn new(record: KeyRecord, previous: Option<&KeySlot>) -> KeySlot {
        KeySlot {
            record,
            health: previous.map_or_else(Arc::default, |p| p.health.clone()),
        }
    }

    fn cooling(&self, now: i64) -> bool {
        self.cooldown_until_ms.load(Ordering::Relaxed) > now
    }

    /// The breaker is half-open: only one probe call at a time may use the key.
    fn half_open(&self, threshold: u32) -> bool {
        self.consecutive_failures.load(Ordering::Relaxed) >= threshold
    }

    fn probe_busy(&self, now: i64) -> bool {
        let since = self.probe_since_ms.load(Ordering::Relaxed);
        since != 0 && now - since < PROBE_TIMEOUT_MS
    }

    /// Claims the probe of a half-open key; false when another call holds it.
    fn claim_probe(&self, now: i64) -> bool {
        let since = self.probe_since_ms.load(Ordering::Relaxed);
        if since != 0 && now - since < PROBE_TIMEOUT_MS {
            return false;
        }
        self.probe_since_ms
            .compare_exchange(since, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    fn cool_down(&self, length: Duration) {
        let until = now_ms().saturating_add(length.as_millis().min(i64::MAX as u128) as i64);
        self.cooldown_until_ms.fetch_max(until, Ordering::Relaxed);
    }
}

/// Cool-downs decided on this instance, waiting to be shared with the others (the
/// `ProviderRegistry` writes them to the database on its sync tick and reads theirs back);
/// "cooled until 0" says a recovery probe found the key serving again.
#[derive(Default)]
pub struct CooldownFeed {
    /// (key id, cooled until — this instance's wall clock, Unix ms).
    pending: Mutex<Vec<(i32, i64)>>,
}

impl CooldownFeed {
    pub fn take(&self) -> Vec<(i32, i64)> {
        std::mem::take(&mut *self.pending.lock())
    }
}

/// A provider's keys as the request path sees them.
pub struct KeySet {
    provider: String,
    strategy: Strategy,
    policy: KeyPolicy,
    keys: Vec<Arc<KeySlot>>,
    /// The round-robin position, shared with the sets that replace this one: a copy taken
    /// while a call still picked from the old set gave the next call the same key again.
    counter: Arc<AtomicU64>,
    feed: Option<Arc<CooldownFeed>>,
}

/// A key chosen for one attempt.
#[derive(Clone)]
pub struct PickedKey {
    pub id: i32,
    pub secret: Arc<str>,
}

impl KeySet {
    /// Builds a set from stored keys, carrying over the health of keys `previous` had.
    pub fn new(
        provider: String,
        strategy: Strategy,
        policy: KeyPolicy,
        records: Vec<KeyRecord>,
        previous: Option<&KeySet>,
    ) -> KeySet {
        let keys = records
            .into_iter()
            .map(|record| {
                let old = previous.and_then(|p| p.keys.iter().find(|k| k.record.id == record.id));
                Arc::new(KeySlot::new(record, old.map(|k| &**k)))
            })
            .collect();
        KeySet {
            provider,
            strategy,
            policy,
            keys,
            counter: previous.map_or_else(|| Arc::new(AtomicU64::new(0)), |p| p.counter.clone()),
            feed: None,
        }
    }

    /// Cool-downs of this set are also posted to `feed`, for the other instances.
    pub fn shared_through(mut self, feed: Arc<CooldownFeed>) -> KeySet {
        self.feed = Some(feed);
        self
    }

    /// Applies a cool-down decided on another instance; false when the key is not here.
    /// A cool-down this instance's recovery probe already ended (give or take the clock
    /// rounding of the exchange) is not adopted again: until the other instances hear of
    /// the recovery they still report it.
    pub fn adopt_cooldown(&self, key_id: i32, until_ms: i64) -> bool {
        match self.keys.iter().find(|k| k.record.id == key_id) {
            Some(k) => {
                let ended = k.recovered_from_ms.load(Ordering::Relaxed);
                if until_ms > ended + ADOPT_TOLERANCE_MS {
                    k.cooldown_until_ms.fetch_max(until_ms, Ordering::Relaxed);
                }
                true
            }
            None => false,
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

    /// Chooses a usable key (enabled, not cooling down, not in `exclude`, not a half-open
    /// key whose probe is taken) by the strategy.
    pub fn pick(&self, exclude: &[i32]) -> Option<PickedKey> {
        let now = now_ms();
        let threshold = self.policy.failure_threshold;
        let mut usable: Vec<&Arc<KeySlot>> = self
            .keys
            .iter()
            .filter(|k| {
                let probe_taken = k.half_open(threshold) && k.probe_busy(now);
                k.record.enabled
                    && !k.cooling(now)
                    && !exclude.contains(&k.record.id)
                    && !probe_taken
            })
            .collect();
        loop {
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
            if !key.half_open(threshold) || key.claim_probe(now) {
                return Some(PickedKey {
                    id: key.record.id,
                    secret: key.record.secret.clone(),
                });
            }
            // Another call took the probe between the filter and here.
            usable.retain(|k| k.record.id != key.record.id);
        }
    }

    /// The cooling key (enabled, not in `exclude`, not benched for quota) that recovers
    /// soonest, with when it does: the candidate for a recovery probe.
    fn soonest_cooling(&self, exclude: &[i32], now: i64) -> Option<(&Arc<KeySlot>, i64)> {
        self.keys
            .iter()
            .filter(|k| {
                k.record.enabled
                    && k.cooling(now)
                    && !exclude.contains(&k.record.id)
                    && !k.benched.load(Ordering::Relaxed)
            })
            .map(|k| (k, k.cooldown_until_ms.load(Ordering::Relaxed)))
            .min_by_key(|(_, until)| *until)
    }

    /// When this set's soonest-recovering cooling key recovers (see `claim_recovery_probe`).
    pub fn soonest_recovery(&self, exclude: &[i32]) -> Option<i64> {
        self.soonest_cooling(exclude, now_ms())
            .map(|(_, until)| until)
    }

    /// No provider goes dark after a blip: when no key of any candidate is usable, the
    /// cooling key that recovers soonest takes one probe call — one at a time, at most one
    /// a second — and a success ends its cool-down. `None`: the probe is taken.
    pub fn claim_recovery_probe(&self, exclude: &[i32]) -> Option<PickedKey> {
        let now = now_ms();
        let (key, _) = self.soonest_cooling(exclude, now)?;
        let last = key.last_probe_ms.load(Ordering::Relaxed);
        if now - last < PROBE_SPACING_MS
            || key
                .last_probe_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            || !key.claim_probe(now)
        {
            return None;
        }
        Some(PickedKey {
            id: key.record.id,
            secret: key.record.secret.clone(),
        })
    }

    /// Seconds until the first of these keys (enabled, not in `exclude`) recovers, for a
    /// `Retry-After`; `None` when none is cooling.
    pub fn retry_after_secs(&self) -> Option<u64> {
        let now = now_ms();
        self.keys
            .iter()
            .filter(|k| k.record.enabled)
            .map(|k| k.cooldown_until_ms.load(Ordering::Relaxed) - now)
            .filter(|left| *left > 0)
            .min()
            .map(|left| (left as u64).div_ceil(1000).max(1))
    }

    /// Records an attempt's outcome and cools the key down where it must.
    pub fn report(&self, key_id: i32, outcome: KeyOutcome, detail: Option<String>) {
        let Some(key) = self.keys.iter().find(|k| k.record.id == key_id) else {
            return;
        };
        let r = Ordering::Relaxed;
        let probe = key.probe_since_ms.swap(0, r) != 0;
        if matches!(outcome, KeyOutcome::Ok | KeyOutcome::RequestError) {
            if probe && key.cooling(now_ms()) {
                // A probe of a cooling key got through: the upstream has recovered, here
                // and (through the feed: until 0) for the other instances too.
                let ended = key.cooldown_until_ms.swap(0, r);
                key.recovered_from_ms.store(ended, r);
                key.benched.store(false, r);
                if let Some(feed) = &self.feed {
                    feed.pending.lock().push((key_id, 0));
                }
            }
            key.successes.fetch_add(1, r);
            if key.consecutive_failures.swap(0, r) != 0 {
                key.reopened.store(0, r);
            }
            return;
        }
        key.failures.fetch_add(1, r);
        *key.last_error.lock() = detail;
        let policy = &self.policy;
        let cooldown = match outcome {
            KeyOutcome::RateLimited(after) => Some(after.unwrap_or(policy.cooldown)),
            KeyOutcome::OutOfQuota => Some(policy.quota_cooldown),
            KeyOutcome::Refused | KeyOutcome::Unreachable => Some(policy.cooldown),
            KeyOutcome::Failed(after) => {
                let failures = key.consecutive_failures.fetch_add(1, r).saturating_add(1);
                if probe {
                    // The half-open probe failed: open again, for twice as long.
                    let times = key.reopened.fetch_add(1, r).saturating_add(1).min(16);
                    let doubled = policy.cooldown.saturating_mul(1u32 << times);
                    Some(after.unwrap_or(doubled.min(MAX_BACKOFF)))
                } else if failures == policy.failure_threshold {
                    Some(after.unwrap_or(policy.cooldown))
                } else {
                    after
                }
            }
            KeyOutcome::Ok | KeyOutcome::RequestError => None,
        };
        if let Some(length) = cooldown {
            key.benched
                .store(outcome == KeyOutcome::OutOfQuota, Ordering::Relaxed);
            key.cool_down(length);
            if let Some(feed) = &self.feed {
                let until = key.cooldown_until_ms.load(Ordering::Relaxed);
                feed.pending.lock().push((key_id, until));
            }
            let reason = match outcome {
                KeyOutcome::RateLimited(_) => "rate_limited",
                KeyOutcome::OutOfQuota => "out_of_quota",
                KeyOutcome::Refused => "refused",
                KeyOutcome::Unreachable => "unreachable",
                _ => "failing",
            };
            metrics::counter!("gateway_key_cooldowns_total",
                "provider" => self.provider.clone(), "reason" => reason)
            .increment(1);
            log::warn!(
                "provider {} key {} cooled down for {}s ({outcome:?})",
                self.provider,
                key_id,
                length.as_secs()
            );
        }
    }

    /// Each key's record and health now (never the secret), for the admin API's views.
    pub fn statuses(&self) -> Vec<KeyStatus> {
        let now = now_ms();
        self.keys
            .iter()
            .map(|k| KeyStatus {
                id: k.record.id,
                masked_key: k.record.masked_key.clone(),
                description: k.record.description.clone(),
                weight: k.record.weight,
                enabled: k.record.enabled,
                created_at: k.record.created_at,
                cooldown_remaining_ms: (k.cooldown_until_ms.load(Ordering::Relaxed) - now).max(0),
                consecutive_failures: k.consecutive_failures.load(Ordering::Relaxed),
                successes: k.successes.load(Ordering::Relaxed),
                failures: k.failures.load(Ordering::Relaxed),
                last_error: k.last_error.lock().clone(),
            })
            .collect()
    }
}

/// A key's record and health at one moment (never the secret).
#[derive(Debug, Clone)]
pub struct KeyStatus {
    pub id: i32,
    pub masked_key: String,
    pub description: Option<String>,
    pub weight: u32,
    pub enabled: bool,
    pub created_at: i64,
    /// 0 when the key is not cooling down.
    pub cooldown_remaining_ms: i64,
    pub consecutive_failures: u32,
    pub successes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests;
