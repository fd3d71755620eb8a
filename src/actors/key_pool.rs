//! `KeyPool`: one per provider. Owns its upstream keys, chooses one per attempt and
//! cools down keys that were refused or unreachable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;

use crate::routing::strategy::{order, Strategy};
use crate::store::providers::KeyRecord;

struct KeyState {
    record: KeyRecord,
    cooldown_until: Option<Instant>,
    successes: u64,
    failures: u64,
    last_error: Option<String>,
}

impl KeyState {
    fn new(record: KeyRecord) -> KeyState {
        KeyState {
            record,
            cooldown_until: None,
            successes: 0,
            failures: 0,
            last_error: None,
        }
    }

    fn cooling(&self, now: Instant) -> bool {
        self.cooldown_until.is_some_and(|t| t > now)
    }
}

pub struct KeyPool {
    provider: String,
    strategy: Strategy,
    cooldown: Duration,
    keys: Vec<KeyState>,
    counter: u64,
}

impl KeyPool {
    pub fn new(provider: String, strategy: Strategy, cooldown: Duration) -> KeyPool {
        KeyPool {
            provider,
            strategy,
            cooldown,
            keys: Vec::new(),
            counter: 0,
        }
    }
}

impl Actor for KeyPool {
    type Context = Context<Self>;
}

/// A key chosen for one attempt.
#[derive(Clone)]
pub struct PickedKey {
    pub id: i32,
    pub secret: Arc<str>,
}

/// Chooses a usable key (enabled, not cooling down, not in `exclude`).
#[derive(Message)]
#[rtype(result = "Option<PickedKey>")]
pub struct PickKey {
    pub exclude: Vec<i32>,
}

impl Handler<PickKey> for KeyPool {
    type Result = Option<PickedKey>;

    fn handle(&mut self, msg: PickKey, _: &mut Context<Self>) -> Option<PickedKey> {
        let now = Instant::now();
        let usable: Vec<usize> = (0..self.keys.len())
            .filter(|&i| {
                let k = &self.keys[i];
                k.record.enabled && !k.cooling(now) && !msg.exclude.contains(&k.record.id)
            })
            .collect();
        let weights: Vec<u32> = usable.iter().map(|&i| self.keys[i].record.weight).collect();
        let first = *order(self.strategy, &weights, &mut self.counter).first()?;
        let key = &self.keys[usable[first]].record;
        Some(PickedKey {
            id: key.id,
            secret: key.secret.clone(),
        })
    }
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

#[derive(Message)]
#[rtype(result = "()")]
pub struct ReportKey {
    pub key_id: i32,
    pub outcome: KeyOutcome,
    pub detail: Option<String>,
}

impl Handler<ReportKey> for KeyPool {
    type Result = ();

    fn handle(&mut self, msg: ReportKey, _: &mut Context<Self>) {
        let Some(key) = self.keys.iter_mut().find(|k| k.record.id == msg.key_id) else {
            return;
        };
        if msg.outcome == KeyOutcome::Ok {
            key.successes += 1;
            return;
        }
        key.failures += 1;
        key.last_error = msg.detail;
        if matches!(
            msg.outcome,
            KeyOutcome::RateLimited | KeyOutcome::Refused | KeyOutcome::Unreachable
        ) {
            key.cooldown_until = Some(Instant::now() + self.cooldown);
            log::warn!(
                "provider {} key {} cooled down for {}s ({:?})",
                self.provider,
                key.record.id,
                self.cooldown.as_secs(),
                msg.outcome
            );
        }
    }
}

/// Replaces the key set after a reload, keeping health of keys that stay.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetKeys {
    pub provider: String,
    pub keys: Vec<KeyRecord>,
}

impl Handler<SetKeys> for KeyPool {
    type Result = ();

    fn handle(&mut self, msg: SetKeys, _: &mut Context<Self>) {
        let mut old: Vec<KeyState> = std::mem::take(&mut self.keys);
        self.provider = msg.provider;
        self.keys = msg
            .keys
            .into_iter()
            .map(
                |record| match old.iter().position(|k| k.record.id == record.id) {
                    Some(i) => {
                        let mut state = old.swap_remove(i);
                        state.record = record;
                        state
                    }
                    None => KeyState::new(record),
                },
            )
            .collect();
    }
}

/// A key as the admin API shows it: never the secret.
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

#[derive(Message)]
#[rtype(result = "Vec<KeyView>")]
pub struct ListKeys;

impl Handler<ListKeys> for KeyPool {
    type Result = MessageResult<ListKeys>;

    fn handle(&mut self, _: ListKeys, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        MessageResult(
            self.keys
                .iter()
                .map(|k| {
                    let remaining = k
                        .cooldown_until
                        .map(|t| t.saturating_duration_since(now).as_secs())
                        .unwrap_or(0);
                    KeyView {
                        id: k.record.id,
                        masked_key: k.record.masked_key.clone(),
                        description: k.record.description.clone(),
                        weight: k.record.weight,
                        enabled: k.record.enabled,
                        cooling_down: k.cooling(now),
                        cooldown_remaining_secs: remaining,
                        successes: k.successes,
                        failures: k.failures,
                        last_error: k.last_error.clone(),
                        created_at: crate::time::to_rfc3339(k.record.created_at),
                    }
                })
                .collect(),
        )
    }
}
