//! Admission in the ledger: a call priced over its candidates and reserved on its token's
//! account and, for a token in a team, on the team's too — refused when either cannot pay.

use std::time::Instant;

use super::{unknown_team, Cell, LedgerState};
use crate::accounting::{AccountKey, CallEstimate, Reservation};
use crate::core::usage::ServiceTier;
use crate::error::ApiError;
use crate::pricing::{CacheAsk, Price};
use crate::settings::MissingPrice;

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

impl LedgerState {
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
}
