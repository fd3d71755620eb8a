//! An account's budget period: moving to the period a moment falls in, starting afresh
//! when the rule changes, and what a refusal says about the reset.

use jiff::tz::TimeZone;

use super::period::{self, Bounds, BudgetPeriod};
use super::{Account, Limits, PeriodSpend};

impl Account {
    /// Moves to the period `now_ms` falls in: a new one starts with nothing spent (on every
    /// instance alike, with no job to run: each moves when it first sees the new period).
    pub fn roll(&mut self, limits: &Limits, now_ms: i64, tz: &TimeZone) {
        if limits.period != self.period_rule {
            self.set_rule(limits.period);
        }
        if self.period_end.is_none_or(|end| now_ms < end) {
            return;
        }
        let Bounds { start, end } = limits.period.bounds(now_ms, limits.created_at, tz);
        if start > self.period.start {
            self.period = PeriodSpend {
                start,
                tokens: 0,
                nano: 0,
            };
            // The others' spend was the old period's; their holds are learnt again at the
            // next lease (the database decides leases: this view only sizes them).
            self.external_tokens = 0;
            self.external_nano = 0;
            self.alerted = 0;
        }
        self.period_end = end;
    }

    /// The budget period changed: a fresh period starts (a lifetime budget counts the
    /// whole life again), as the admin API writes it.
    pub fn set_rule(&mut self, rule: BudgetPeriod) {
        self.period_rule = rule;
        self.period = match rule {
            BudgetPeriod::None => PeriodSpend {
                start: 0,
                tokens: self.totals.total_tokens,
                nano: self.totals.amount.nanos(),
            },
            _ => PeriodSpend::default(),
        };
        self.period_end = Some(i64::MIN);
        self.external_tokens = 0;
        self.external_nano = 0;
        self.alerted = 0;
    }

    /// When the current period ends (`None`: never), as of the last roll.
    pub fn resets_at(&self) -> Option<i64> {
        self.period_end.filter(|e| *e != i64::MIN)
    }

    /// The period's usage to show: this instance's, or the cluster's as last read when it
    /// is of the same period and further along.
    pub fn shown_period(&self) -> PeriodSpend {
        let (a, b) = (self.period, self.cluster_period);
        if b.start == a.start {
            PeriodSpend {
                start: a.start,
                tokens: a.tokens.max(b.tokens),
                nano: a.nano.max(b.nano),
            }
        } else {
            a
        }
    }

    /// The `Retry-After` of a budget refusal: until the period resets; a lifetime budget
    /// comes back only when an admin raises it, so an hour (clients that honour it stop
    /// retrying; Claude Code gives up past a minute and shows the message).
    pub fn retry_after_secs(&self) -> u64 {
        match self.resets_at() {
            Some(at) => (at.saturating_sub(crate::time::now_ms()).max(0) as u64).div_ceil(1000),
            None => 3600,
        }
    }

    pub(super) fn resets_note(&self) -> String {
        match self.resets_at() {
            Some(at) => format!("; it resets at {}", period::rfc3339(at)),
            None => String::new(),
        }
    }
}
