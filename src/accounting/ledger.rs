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
use super::{Account, AccountKey, CallEstimate, Limits, PeriodSpend, Reservation, Totals};
use crate::core::money::Money;
use crate::core::usage::ServiceTier;
use crate::error::ApiError;
use crate::pricing::CacheAsk;
use crate::pricing::{Price, PriceBook};
use crate::settings::MissingPrice;

mod cluster;
mod parallel;
mod settle;
pub mod teams;
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

/// What admission needs to know about a call.
pub struct AdmitRequest<'a> {
    pub token_id: i32,
    /// The token's team, whose account is admitted too.
    pub team_id: Option<i32>,
    /// `(provider, model)` of each candidate, in routing order.
    pub candidates: Vec<(&'a str, &'a str)>,
    pub prompt_tokens: i64,
    /// The client's own completion cap, if it set one.
    pub client_cap: Option<i64>,
    /// Choices asked for (`n`).
    pub choices: i64,
    /// Embeddings generate no completion.
    pub generates: bool,
    /// The call costs nothing (token counting): no price is needed.
    pub free: bool,
    /// A `service_tier` the client asked for beyond the standard ones (priority tiers cost
    /// more than the book's standard prices: priced only where the book has a multiplier).
    pub unpriced_tier: Option<&'a str>,
    /// The cache writes the request asks for.
    pub cache: CacheAsk,
    /// Web searches the provider may run for it, at most.
    pub web_searches: i64,
}

pub struct Admission {
    /// `None` when accounting is off.
    pub reservation: Option<Reservation>,
    /// The team's, for a token in a team.
    pub team_reservation: Option<Reservation>,
    /// Which candidates may be used (false: unpriced while `missing_price = refuse`).
    pub usable: Vec<bool>,
    /// Each candidate's maximum output tokens, where the price book knows it.
    pub max_output: Vec<Option<i64>>,
    /// Completion tokens per choice the budget can pay for; `None`: not limited.
    pub allowance: Option<i64>,
}

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

    /// Admission: prices, rate limits and budgets for a call about to go upstream.
    pub fn admit(&self, req: AdmitRequest<'_>) -> Result<Admission, ApiError> {
        let book = self.prices.load_full();
        let token = self.cell(AccountKey::Token(req.token_id));
        let team = match req.team_id {
            Some(id) => Some(
                self.cell(AccountKey::Team(id))
                    .ok_or_else(|| unknown_team(id))?,
            ),
            None => None,
        };
        // A money budget means nothing for a call it cannot price: such tokens (and the
        // tokens of such teams) use priced models only, whatever `pricing.missing_price`
        // says for the others.
        let money_budget = self.config.enabled
            && !req.free
            && token
                .iter()
                .chain(team.iter())
                .any(|c| c.limits.load().max_amount.is_some());
        let prices: Vec<Option<Price>> = req
            .candidates
            .iter()
            .map(|(p, m)| {
                if money_budget {
                    book.lookup(p, m)
                } else {
                    self.price_of(&book, p, m)
                }
            })
            .collect();
        let usable: Vec<bool> = match self.config.missing_price {
            _ if req.free => vec![true; prices.len()],
            _ if money_budget => prices.iter().map(Option::is_some).collect(),
            MissingPrice::Zero => vec![true; prices.len()],
            MissingPrice::Refuse => prices.iter().map(Option::is_some).collect(),
        };
        if !usable.iter().any(|u| *u) {
            let model = req.candidates.first().map_or("", |c| c.1);
            if money_budget {
                return Err(ApiError::NotPriced(format!(
                    "model '{model}' has no price, and this token has a money budget \
                     (max_amount): an admin can add one with PUT /admin/model-prices \
                     {{\"model\": \"{model}\", \"input_per_million\": …, \"output_per_million\": …}}"
                )));
            }
            return Err(ApiError::PermissionDenied(format!(
                "model '{model}' has no price configured, and unpriced models are refused"
            )));
        }
        let tier = ServiceTier::parse(req.unpriced_tier.unwrap_or(""));
        let tier_priced = tier == ServiceTier::Priority
            && prices
                .iter()
                .zip(&usable)
                .filter(|(_, u)| **u)
                .all(|(p, _)| p.is_some_and(|p| p.priority_multiplier.is_some()));
        if let (true, Some(tier), false) = (money_budget, req.unpriced_tier, tier_priced) {
            return Err(ApiError::NotPriced(format!(
                "service_tier '{}' has no price, and this token has a money budget \
                 (max_amount): leave service_tier out or use 'auto', 'default' or 'flex'",
                tier.chars().take(40).collect::<String>()
            )));
        }
        let max_output: Vec<Option<i64>> = prices
            .iter()
            .map(|p| p.and_then(|p| p.max_output_tokens))
            .collect();
        if !self.config.enabled {
            return Ok(Admission {
                reservation: None,
                team_reservation: None,
                usable,
                max_output,
                allowance: None,
            });
        }
        // Bounds over the usable candidates: the largest completion any may generate and
        // the dearest prices (the call may end up on any of them).
        let mut estimate = CallEstimate {
            prompt_tokens: req.prompt_tokens,
            choices: req.choices,
            completion_per_choice: 0,
            input_nano_per_token: 0.0,
            output_nano_per_token: 0.0,
            fixed_nano: 0.0,
        };
        for (i, price) in prices.iter().enumerate().filter(|(i, _)| usable[*i]) {
            if req.generates {
                let natural = req
                    .client_cap
                    .unwrap_or(max_output[i].unwrap_or(self.config.default_completion_tokens));
                estimate.completion_per_choice = estimate.completion_per_choice.max(natural);
            }
            if let Some(p) = price {
                let (input, output) = p.dearest_nano(req.prompt_tokens, req.cache, tier);
                estimate.input_nano_per_token = estimate.input_nano_per_token.max(input);
                estimate.output_nano_per_token = estimate.output_nano_per_token.max(output);
                let search = p.web_search_per_use.unwrap_or(0.0) * 1e9;
                estimate.fixed_nano = estimate
                    .fixed_nano
                    .max(search * req.web_searches.max(0) as f64);
            }
        }
        let token = token.ok_or(ApiError::InvalidToken)?;
        let (now, now_ms) = (Instant::now(), crate::time::now_ms());
        let (reservation, mut allowance) = self.admit_one(
            &token,
            AccountKey::Token(req.token_id),
            &estimate,
            now,
            now_ms,
        )?;
        let mut team_reservation = None;
        if let (Some(team), Some(id)) = (&team, req.team_id) {
            // The team pays for what the token's budget lets the call generate, at most.
            if let Some(a) = allowance {
                estimate.completion_per_choice = estimate.completion_per_choice.min(a);
            }
            match self.admit_one(team, AccountKey::Team(id), &estimate, now, now_ms) {
                Ok((r, a)) => {
                    team_reservation = Some(r);
                    allowance = match (allowance, a) {
                        (Some(x), Some(y)) => Some(x.min(y)),
                        (x, y) => x.or(y),
                    };
                }
                Err(e) => {
                    token.account.lock().release(&reservation);
                    return Err(e);
                }
            }
        }
        Ok(Admission {
            reservation: Some(reservation),
            team_reservation,
            usable,
            max_output,
            // Only a generated completion can be capped (an embedding has none).
            allowance: allowance.filter(|_| req.generates),
        })
    }

    fn admit_one(
        &self,
        cell: &Cell,
        key: AccountKey,
        estimate: &CallEstimate,
        now: Instant,
        now_ms: i64,
    ) -> Result<(Reservation, Option<i64>), ApiError> {
        let limits = cell.limits.load();
        let mut account = cell.account.lock();
        account.roll(&limits, now_ms, &self.config.time_zone);
        account.admit(key, &limits, estimate, now)
    }

    /// Refuses a call before its body costs anything (see `Account::precheck`).
    pub fn precheck(&self, key: AccountKey, budgets: bool) -> Result<(), ApiError> {
        if !self.config.enabled {
            return Ok(());
        }
        let cell = self.cell(key).ok_or(match key {
            AccountKey::Token(_) => ApiError::InvalidToken,
            AccountKey::Team(id) => unknown_team(id),
        })?;
        let limits = cell.limits.load();
        if limits.unlimited() {
            return Ok(());
        }
        let mut account = cell.account.lock();
        account.roll(&limits, crate::time::now_ms(), &self.config.time_zone);
        account.precheck(&limits, budgets, Instant::now())
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

fn unknown_team(id: i32) -> ApiError {
    ApiError::PermissionDenied(format!(
        "this token's team ({id}) is not known to this instance yet; retry shortly"
    ))
}
