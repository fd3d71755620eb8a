//! `LedgerState`: the tokens, accounts and prices that the `UsageLedger` owns, shared with
//! request handlers so that authentication, admission and settlement cost no actor round
//! trip. Each token's and team's account sits behind its own mutex: admissions of one
//! account are serialised (so budgets hold), different accounts never contend.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;

use dashmap::DashMap;
use entity::token;

use super::token::TokenInfo;
use super::{Account, AccountKey, Limits, PeriodSpend, Reservation, Totals};
use crate::core::money::Money;
use crate::error::ApiError;
use crate::pricing::{Price, PriceBook};
use crate::settings::MissingPrice;

mod admit;
mod cluster;
mod parallel;
mod settle;
pub mod teams;
pub use admit::{Admission, AdmitRequest};
pub use cluster::{LeaseGrant, Renewed, Returned};
pub use parallel::{full as slots_full, Slot, SlotSize, SlotTry};
pub use settle::Crossing;
pub use teams::TeamState;

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Budgets, rate limits and counters; off: tokens are only authenticated.
    pub enabled: bool,
    /// How long an unknown token is answered 401 from memory.
    pub negative_cache_ms: i64,
    /// Database look-ups of unknown tokens per second.
    pub lookups_per_sec: u32,
    pub missing_price: MissingPrice,
    pub default_completion_tokens: i64,
    /// The calendar of budget periods (`budgets.timezone`).
    pub time_zone: jiff::tz::TimeZone,
    /// Fractions of a budget that raise an alert (empty: no alerts).
    pub alert_thresholds: Vec<f64>,
}

/// A token's or team's account with the limits it is kept against.
pub(crate) struct Cell {
    limits: ArcSwap<Limits>,
    account: Mutex<Account>,
    /// Held while this instance asks the database for more of the budget, so concurrent
    /// calls make one request, not one each.
    lease_lock: Arc<tokio::sync::Mutex<()>>,
    /// Held while this instance grows or shrinks its cluster hold on the slots.
    slot_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Cell {
    fn new(key: AccountKey, limits: Limits, totals: Totals, period: PeriodSpend) -> Cell {
        Cell {
            account: Mutex::new(Account::new(key, totals, period, limits.period)),
            limits: ArcSwap::from_pointee(limits),
            lease_lock: Arc::default(),
            slot_lock: Arc::default(),
        }
    }
}

struct TokenSlot {
    hash: String,
    info: ArcSwap<TokenInfo>,
    /// Held while `info` is replaced (the `updated_at` check and the swap are one step).
    replacing: Mutex<()>,
    /// `updated_at` of the row `info` came from: an older row (a sync that read before a
    /// change this instance made) never replaces a newer one.
    updated_at: AtomicI64,
    cell: Arc<Cell>,
}

/// A token or team with its live counters.
#[derive(Debug, Clone)]
pub struct TokenState {
    pub info: Arc<TokenInfo>,
    /// Lifetime counters.
    pub totals: Totals,
    pub reserved_nano: i64,
    /// The current period's usage, and when the period ends (`None`: never).
    pub period: PeriodSpend,
    pub resets_at: Option<i64>,
}

/// Unpriced (provider, model) pairs warned about, at most; past it one line says so.
const MAX_UNPRICED_WARNINGS: usize = 1024;

/// Unknown tokens remembered at most; past it the oldest half is forgotten.
const MAX_NEGATIVE: usize = 100_000;

pub struct LedgerState {
    config: LedgerConfig,
    /// Unknown token hashes → until when they are answered 401 without a look-up.
    unknown: DashMap<String, i64>,
    /// Database look-ups of unknown tokens: `auth.unknown_token_lookups_per_sec`, in
    /// bursts of as many.
    lookups: DefaultDirectRateLimiter,
    /// 401s answered, and when a warning last reported them.
    pub rejected_auth: AtomicU64,
    warned_rejected: Mutex<(Option<Instant>, u64)>,
    by_hash: DashMap<String, Arc<TokenSlot>>,
    by_id: DashMap<i32, Arc<TokenSlot>>,
    /// Deleted tokens → the deletion's `updated_at`: an older row read by a sync that
    /// raced the deletion does not bring them back.
    deleted: DashMap<i32, i64>,
    teams: DashMap<i32, Arc<teams::TeamSlot>>,
    /// Deleted teams → the deletion's `updated_at` (as `deleted` for tokens).
    deleted_teams: DashMap<i32, i64>,
    /// Where thresholds crossed are reported (the alert sender), once it is started.
    alerts: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Crossing>>,
    prices: ArcSwap<PriceBook>,
    warned_unpriced: Mutex<HashSet<(String, String)>>,
}

/// A token row's counters.
pub fn totals_of(row: &token::Model) -> Totals {
    Totals {
        prompt_tokens: row.prompt_tokens,
        completion_tokens: row.completion_tokens,
        total_tokens: row.total_tokens,
        amount: Money::from_nanos(row.amount_spent_nano),
        requests: row.request_count,
    }
}

/// A token row's current-period counters.
pub fn period_of(row: &token::Model) -> PeriodSpend {
    PeriodSpend {
        start: row.period_start,
        tokens: row.period_tokens,
        nano: row.period_nano,
    }
}

impl LedgerState {
    pub fn new(config: LedgerConfig, prices: PriceBook) -> LedgerState {
        LedgerState {
            by_hash: DashMap::new(),
            by_id: DashMap::new(),
            deleted: DashMap::new(),
            teams: DashMap::new(),
            deleted_teams: DashMap::new(),
            alerts: std::sync::OnceLock::new(),
            unknown: DashMap::new(),
            lookups: RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(config.lookups_per_sec).unwrap_or(NonZeroU32::MIN),
            )),
            rejected_auth: AtomicU64::new(0),
            warned_rejected: Mutex::new((None, 0)),
            prices: ArcSwap::from_pointee(prices),
            warned_unpriced: Mutex::new(HashSet::new()),
            config,
        }
    }

    /// Whether `hash` was looked up recently and found unknown.
    pub fn known_unknown(&self, hash: &str, now_ms: i64) -> bool {
        self.unknown.get(hash).is_some_and(|until| *until > now_ms)
    }

    /// Remembers `hash` as unknown for the negative-cache time.
    pub fn remember_unknown(&self, hash: String, now_ms: i64) {
        if self.unknown.len() >= MAX_NEGATIVE {
            self.unknown.retain(|_, until| *until > now_ms);
            if self.unknown.len() >= MAX_NEGATIVE {
                self.unknown.clear();
            }
        }
        self.unknown
            .insert(hash, now_ms + self.config.negative_cache_ms);
    }

    /// Takes a permit for one database look-up of an unknown token; false when the rate
    /// (`auth.unknown_token_lookups_per_sec`, bursts of as many) is used up.
    pub fn take_lookup_permit(&self) -> bool {
        self.lookups.check().is_ok()
    }

    /// Counts a 401; at most every 10 s a warning says how many there were.
    pub fn count_rejected(&self) {
        metrics::counter!("gateway_unauthenticated_requests_total").increment(1);
        let total = self.rejected_auth.fetch_add(1, Ordering::Relaxed) + 1;
        let mut warned = self.warned_rejected.lock();
        if warned
            .0
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            log::warn!(
                "{} request(s) refused with 401 since the last report (missing, unknown, \
                 disabled or expired tokens); {total} in all",
                total - warned.1,
            );
            *warned = (Some(Instant::now()), total);
        }
    }

    /// A known token by the SHA-256 of its plaintext.
    pub fn lookup(&self, hash: &str) -> Option<Arc<TokenInfo>> {
        self.by_hash.get(hash).map(|slot| slot.info.load_full())
    }

    /// Adds a token read from the database, or refreshes its settings while keeping the
    /// in-memory counters (which are ahead of the database's). A deleted row is removed.
    pub fn upsert(&self, row: &token::Model) -> Arc<TokenInfo> {
        let info = Arc::new(TokenInfo::from_row(row));
        if row.deleted_at.is_some() {
            self.deleted.insert(row.id, row.updated_at);
            self.remove(row.id);
            return info;
        }
        if self
            .deleted
            .get(&row.id)
            .is_some_and(|at| row.updated_at <= *at)
        {
            return info;
        }
        let slot = self
            .by_id
            .entry(row.id)
            .or_insert_with(|| {
                Arc::new(TokenSlot {
                    hash: row.token_hash.clone(),
                    info: ArcSwap::new(info.clone()),
                    replacing: Mutex::new(()),
                    updated_at: AtomicI64::new(row.updated_at),
                    cell: Arc::new(Cell::new(
                        AccountKey::Token(row.id),
                        info.limits,
                        totals_of(row),
                        period_of(row),
                    )),
                })
            })
            .clone();
        {
            let _one_at_a_time = slot.replacing.lock();
            if row.updated_at < slot.updated_at.load(Ordering::Acquire) {
                return slot.info.load_full();
            }
            slot.updated_at.store(row.updated_at, Ordering::Release);
            slot.info.store(info.clone());
            slot.cell.limits.store(Arc::new(info.limits));
        }
        self.by_hash.insert(row.token_hash.clone(), slot);
        info
    }

    /// A token deleted here: gone, and never brought back by a sync (deletion is final).
    pub fn forget(&self, id: i32) {
        self.deleted.insert(id, i64::MAX);
        self.remove(id);
    }

    pub fn remove(&self, id: i32) {
        if let Some((_, slot)) = self.by_id.remove(&id) {
            self.by_hash.remove(&slot.hash);
        }
    }

    /// The account kept for `key`, if it is in memory.
    pub(crate) fn cell(&self, key: AccountKey) -> Option<Arc<Cell>> {
        match key {
            AccountKey::Token(id) => Some(self.by_id.get(&id)?.cell.clone()),
            AccountKey::Team(id) => Some(self.teams.get(&id)?.cell.clone()),
        }
    }

    pub fn state(&self, id: i32) -> Option<TokenState> {
        let slot = self.by_id.get(&id)?.clone();
        let info = slot.info.load_full();
        let (totals, reserved_nano, period, resets_at) = self.shown(&slot.cell);
        Some(TokenState {
            info,
            totals,
            reserved_nano,
            period,
            resets_at,
        })
    }

    /// The period usage a row shows now, for an account not in memory: the row's counts
    /// while its period is current, else nothing yet; and when the period ends.
    pub fn period_now(
        &self,
        rule: super::period::BudgetPeriod,
        created_at: i64,
        stored: PeriodSpend,
    ) -> (PeriodSpend, Option<i64>) {
        let b = rule.bounds(crate::time::now_ms(), created_at, &self.config.time_zone);
        let period = if stored.start >= b.start {
            stored
        } else {
            PeriodSpend {
                start: b.start,
                tokens: 0,
                nano: 0,
            }
        };
        (period, b.end)
    }

    /// An account's counters to show, its period moved to now first.
    fn shown(&self, cell: &Cell) -> (Totals, i64, PeriodSpend, Option<i64>) {
        let limits = cell.limits.load();
        let mut account = cell.account.lock();
        account.roll(&limits, crate::time::now_ms(), &self.config.time_zone);
        (
            account.shown_totals(),
            account.reserved_nano,
            account.shown_period(),
            account.resets_at(),
        )
    }

    pub fn set_prices(&self, book: PriceBook) {
        self.prices.store(Arc::new(book));
        self.warned_unpriced.lock().clear();
    }

    fn price_of(&self, book: &PriceBook, provider: &str, model: &str) -> Option<Price> {
        let price = book.lookup(provider, model);
        if price.is_none() && self.config.missing_price == MissingPrice::Zero {
            let mut warned = self.warned_unpriced.lock();
            if warned.len() < MAX_UNPRICED_WARNINGS {
                if warned.insert((provider.to_string(), model.to_string())) {
                    log::warn!(
                        "no price for model '{model}' on provider '{provider}': billed at zero"
                    );
                }
            } else if warned.len() == MAX_UNPRICED_WARNINGS {
                warned.insert((String::new(), String::new()));
                log::warn!(
                    "more than {MAX_UNPRICED_WARNINGS} unpriced models: no more warnings until prices change"
                );
            }
        }
        price
    }

    /// Gives a reservation back early (a call refused after admission).
    pub fn release(&self, reservation: &Reservation) {
        if let Some(cell) = self.cell(reservation.key) {
            cell.account.lock().release(reservation);
        }
    }

    /// An account's per-minute limits (`rpm`, `tpm`), if it has any.
    pub fn rate_limits(&self, key: AccountKey) -> Option<(Option<i32>, Option<i32>)> {
        let limits = **self.cell(key)?.limits.load();
        (limits.rpm.is_some() || limits.tpm.is_some()).then_some((limits.rpm, limits.tpm))
    }

    /// Whether an account has a budget (tokens or money).
    pub fn has_budget(&self, key: AccountKey) -> bool {
        self.cell(key).is_some_and(|c| c.limits.load().has_budget())
    }

    /// The priced model names that `pattern` (a provider's `*` glob) matches for
    /// `provider`, sorted.
    pub fn priced_matching(&self, provider: &str, pattern: &str) -> Vec<String> {
        let book = self.prices.load();
        let mut names: Vec<String> = book
            .names_for(provider)
            .filter(|name| crate::core::model_name::glob_match(pattern, name))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether the price book has a price for `model` on `provider`.
    pub fn is_priced(&self, provider: &str, model: &str) -> bool {
        self.prices.load().lookup(provider, model).is_some()
    }

    /// The live totals of a token, if it is in memory.
    pub fn totals(&self, id: i32) -> Option<Totals> {
        let cell = self.by_id.get(&id)?.cell.clone();
        let totals = cell.account.lock().totals;
        Some(totals)
    }
}

pub(super) fn unknown_team(id: i32) -> ApiError {
    ApiError::PermissionDenied(format!(
        "this token's team ({id}) is not known to this instance yet; retry shortly"
    ))
}
