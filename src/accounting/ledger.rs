//! `LedgerState`: the tokens, accounts and prices that the `UsageLedger` owns, shared with
//! request handlers so that authentication, admission and settlement cost no actor round
//! trip. Each token's account sits behind its own mutex: admissions of one token are
//! serialised (so budgets hold), different tokens never contend.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use dashmap::DashMap;
use entity::token;

use super::token::TokenInfo;
use super::{Account, Reservation, Totals};
use crate::error::ApiError;
use crate::pricing::{Price, PriceBook};
use crate::settings::MissingPrice;
use crate::store::logs::LogEntry;
use crate::upstream::Usage;

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Budgets, rate limits and counters; off: tokens are only authenticated.
    pub enabled: bool,
    pub missing_price: MissingPrice,
    pub default_completion_tokens: i64,
}

struct TokenSlot {
    hash: String,
    info: RwLock<Arc<TokenInfo>>,
    account: Mutex<Account>,
}

/// A token with its live counters.
#[derive(Debug, Clone)]
pub struct TokenState {
    pub info: Arc<TokenInfo>,
    pub totals: Totals,
    pub reserved_nano: i64,
}

/// What admission needs to know about a call.
pub struct AdmitRequest<'a> {
    pub token_id: i32,
    /// `(provider, model)` of each candidate, in routing order.
    pub candidates: Vec<(&'a str, &'a str)>,
    pub prompt_tokens: i64,
    /// The client's max_tokens, if it set one.
    pub max_completion_tokens: Option<i64>,
    /// Embeddings generate no completion.
    pub generates: bool,
}

pub struct Admission {
    /// `None` when accounting is off.
    pub reservation: Option<Reservation>,
    /// Which candidates may be used (false: unpriced while `missing_price = refuse`).
    pub usable: Vec<bool>,
}

pub struct LedgerState {
    config: LedgerConfig,
    by_hash: DashMap<String, Arc<TokenSlot>>,
    by_id: DashMap<i32, Arc<TokenSlot>>,
    prices: RwLock<Arc<PriceBook>>,
    warned_unpriced: Mutex<HashSet<(String, String)>>,
}

fn totals_of(row: &token::Model) -> Totals {
    Totals {
        prompt_tokens: row.prompt_tokens,
        completion_tokens: row.completion_tokens,
        total_tokens: row.total_tokens,
        amount_nano: row.amount_spent_nano,
        requests: row.request_count,
    }
}

impl LedgerState {
    pub fn new(config: LedgerConfig, prices: PriceBook) -> LedgerState {
        LedgerState {
            config,
            by_hash: DashMap::new(),
            by_id: DashMap::new(),
            prices: RwLock::new(Arc::new(prices)),
            warned_unpriced: Mutex::new(HashSet::new()),
        }
    }

    /// A known token by the SHA-256 of its plaintext.
    pub fn lookup(&self, hash: &str) -> Option<Arc<TokenInfo>> {
        self.by_hash
            .get(hash)
            .map(|slot| slot.info.read().expect("token lock").clone())
    }

    pub fn contains(&self, id: i32) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Ids of the tokens held in memory.
    pub fn cached_ids(&self) -> Vec<i32> {
        self.by_id.iter().map(|e| *e.key()).collect()
    }

    /// Adds a token read from the database, or refreshes its settings while keeping the
    /// in-memory counters (which are ahead of the database's). A deleted row is removed.
    pub fn upsert(&self, row: &token::Model) -> Arc<TokenInfo> {
        let info = Arc::new(TokenInfo::from_row(row));
        if row.deleted_at.is_some() {
            self.remove(row.id);
            return info;
        }
        let slot = self
            .by_id
            .entry(row.id)
            .or_insert_with(|| {
                Arc::new(TokenSlot {
                    hash: row.token_hash.clone(),
                    info: RwLock::new(info.clone()),
                    account: Mutex::new(Account::new(totals_of(row))),
                })
            })
            .clone();
        *slot.info.write().expect("token lock") = info.clone();
        self.by_hash.insert(row.token_hash.clone(), slot);
        info
    }

    pub fn remove(&self, id: i32) {
        if let Some((_, slot)) = self.by_id.remove(&id) {
            self.by_hash.remove(&slot.hash);
        }
    }

    pub fn state(&self, id: i32) -> Option<TokenState> {
        let slot = self.by_id.get(&id)?.clone();
        let (totals, reserved_nano) = {
            let account = slot.account.lock().expect("account lock");
            (account.totals, account.reserved_nano)
        };
        let info = slot.info.read().expect("token lock").clone();
        Some(TokenState {
            info,
            totals,
            reserved_nano,
        })
    }

    pub fn set_prices(&self, book: PriceBook) {
        *self.prices.write().expect("price lock") = Arc::new(book);
        self.warned_unpriced.lock().expect("warn lock").clear();
    }

    fn price_of(&self, book: &PriceBook, provider: &str, model: &str) -> Option<Price> {
        let price = book.lookup(provider, model);
        if price.is_none()
            && self.config.missing_price == MissingPrice::Zero
            && self
                .warned_unpriced
                .lock()
                .expect("warn lock")
                .insert((provider.to_string(), model.to_string()))
        {
            log::warn!("no price for model '{model}' on provider '{provider}': billed at zero");
        }
        price
    }

    /// Admission: prices, rate limits and budgets for a call about to go upstream.
    pub fn admit(&self, req: AdmitRequest<'_>) -> Result<Admission, ApiError> {
        let book = self.prices.read().expect("price lock").clone();
        let prices: Vec<Option<Price>> = req
            .candidates
            .iter()
            .map(|(p, m)| self.price_of(&book, p, m))
            .collect();
        let usable: Vec<bool> = match self.config.missing_price {
            MissingPrice::Zero => vec![true; prices.len()],
            MissingPrice::Refuse => prices.iter().map(Option::is_some).collect(),
        };
        if !usable.iter().any(|u| *u) {
            let model = req.candidates.first().map_or("", |c| c.1);
            return Err(ApiError::PermissionDenied(format!(
                "model '{model}' has no price configured, and unpriced models are refused"
            )));
        }
        if !self.config.enabled {
            return Ok(Admission {
                reservation: None,
                usable,
            });
        }
        let completion = if req.generates {
            req.max_completion_tokens
                .unwrap_or(self.config.default_completion_tokens)
                .max(0)
        } else {
            0
        };
        let estimate = Usage {
            prompt_tokens: req.prompt_tokens,
            completion_tokens: completion,
            total_tokens: req.prompt_tokens + completion,
            ..Usage::default()
        };
        // The dearest usable candidate bounds what the call can cost.
        let cost = prices
            .iter()
            .zip(&usable)
            .filter(|(_, u)| **u)
            .map(|(p, _)| p.map_or(0, |p| p.cost_nano(&estimate)))
            .max()
            .unwrap_or(0);
        let slot = self
            .by_id
            .get(&req.token_id)
            .map(|s| s.clone())
            .ok_or(ApiError::InvalidToken)?;
        let limits = slot.info.read().expect("token lock").limits;
        let reservation = slot.account.lock().expect("account lock").admit(
            req.token_id,
            &limits,
            cost,
            estimate.total_tokens,
            Instant::now(),
        )?;
        Ok(Admission {
            reservation: Some(reservation),
            usable,
        })
    }

    /// The end of a call: prices its usage into `entry` and settles the reservation.
    pub fn settle(&self, reservation: Option<Reservation>, entry: &mut LogEntry) {
        if let (Some(provider), Some(model)) = (&entry.provider, &entry.model) {
            if entry.total_tokens > 0 {
                let usage = Usage {
                    prompt_tokens: entry.prompt_tokens,
                    completion_tokens: entry.completion_tokens,
                    total_tokens: entry.total_tokens,
                    cached_tokens: entry.cached_tokens,
                    reasoning_tokens: entry.reasoning_tokens,
                };
                let book = self.prices.read().expect("price lock").clone();
                entry.amount_nano = self
                    .price_of(&book, provider, model)
                    .map_or(0, |p| p.cost_nano(&usage));
            }
        }
        if !self.config.enabled {
            return;
        }
        let Some(slot) = entry
            .token_id
            .and_then(|id| self.by_id.get(&id).map(|s| s.clone()))
        else {
            return;
        };
        let mut account = slot.account.lock().expect("account lock");
        if let Some(r) = &reservation {
            account.release(r);
        }
        let usage = Usage {
            prompt_tokens: entry.prompt_tokens,
            completion_tokens: entry.completion_tokens,
            total_tokens: entry.total_tokens,
            ..Usage::default()
        };
        account.record(&usage, entry.amount_nano, Instant::now());
    }

    /// The live totals of a token, if it is in memory.
    pub fn totals(&self, id: i32) -> Option<Totals> {
        let slot = self.by_id.get(&id)?.clone();
        let totals = slot.account.lock().expect("account lock").totals;
        Some(totals)
    }
}
