//! The end of a call: its usage priced, moved from the reservations to the token's and
//! team's accounts (in the period it ends in), and any budget threshold it crossed
//! reported to the alert sender.

use std::time::Instant;

use super::{Cell, LedgerState};
use crate::accounting::{AccountKey, Reservation};
use crate::core::money::Money;
use crate::core::usage::Usage;
use crate::store::log_entry::LogEntry;

/// A budget threshold an account's period usage reached for the first time (on this
/// instance: the database decides whether it is the first across the cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    pub key: AccountKey,
    pub threshold: f64,
    /// Spent and limit in the budget's unit: nano-USD for `usd`, tokens for `tokens`.
    pub spent: i64,
    pub limit: i64,
    pub usd: bool,
    pub period_start: i64,
    pub resets_at: Option<i64>,
}

impl LedgerState {
    /// Starts reporting crossed thresholds to `tx` (the alert sender).
    pub fn report_alerts_to(&self, tx: tokio::sync::mpsc::UnboundedSender<Crossing>) {
        let _ = self.alerts.set(tx);
    }

    /// The end of a call: prices its usage into `entry` and settles the reservations.
    pub fn settle(&self, reservations: &[Option<Reservation>], entry: &mut LogEntry) {
        if let (Some(provider), Some(model)) = (&entry.provider, &entry.model) {
            if entry.total_tokens > 0 {
                let usage = entry.usage();
                let book = self.prices.load_full();
                entry.amount = self
                    .price_of(&book, provider, model)
                    .map_or(Money::ZERO, |p| p.cost(&usage));
            }
        }
        if !self.config.enabled {
            return;
        }
        let usage = Usage {
            prompt_tokens: entry.prompt_tokens,
            completion_tokens: entry.completion_tokens,
            total_tokens: entry.total_tokens,
            ..Usage::default()
        };
        let keys = [
            entry.token_id.map(AccountKey::Token),
            entry.team_id.map(AccountKey::Team),
        ];
        for key in keys.into_iter().flatten() {
            let Some(cell) = self.cell(key) else {
                continue;
            };
            let held = reservations.iter().flatten().find(|r| r.key == key);
            let period = self.record(&cell, key, held, &usage, entry.amount);
            match key {
                AccountKey::Token(_) => entry.token_period = period,
                AccountKey::Team(_) => entry.team_period = period,
            }
        }
    }

    /// Records usage on one account; returns the period it counted in.
    fn record(
        &self,
        cell: &Cell,
        key: AccountKey,
        held: Option<&Reservation>,
        usage: &Usage,
        amount: Money,
    ) -> i64 {
        let limits = cell.limits.load();
        let mut account = cell.account.lock();
        if let Some(r) = held {
            account.release(r);
        }
        account.roll(&limits, crate::time::now_ms(), &self.config.time_zone);
        account.record(usage, amount, Instant::now());
        let period = account.period.start;
        let Some(tx) = self.alerts.get() else {
            return period;
        };
        // Money budgets are alerted in USD; a token-only budget in tokens. What the other
        // instances spent or hold counts too (as last learnt).
        let (spent, limit, usd) = match (limits.max_amount, limits.max_tokens) {
            (Some(max), _) => (
                account.period.nano.saturating_add(account.external_nano),
                max.nanos(),
                true,
            ),
            (None, Some(max)) => (
                account
                    .period
                    .tokens
                    .saturating_add(account.external_tokens),
                max,
                false,
            ),
            (None, None) => return period,
        };
        if limit <= 0 {
            return period;
        }
        for (i, threshold) in self.config.alert_thresholds.iter().enumerate().take(32) {
            let bit = 1u32 << i;
            if account.alerted & bit == 0 && spent as f64 >= threshold * limit as f64 {
                account.alerted |= bit;
                let _ = tx.send(Crossing {
                    key,
                    threshold: *threshold,
                    spent,
                    limit,
                    usd,
                    period_start: period,
                    resets_at: account.resets_at(),
                });
            }
        }
        period
    }
}
