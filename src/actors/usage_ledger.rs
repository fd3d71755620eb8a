//! `UsageLedger`: owns gateway tokens and their accounting in memory — authentication,
//! the negative cache for unknown tokens, budgets and rate limits (reserve on admission,
//! settle at the end), prices, and the admin operations on tokens and prices.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use entity::token;
use sea_orm::DatabaseConnection;

use super::log_sink::{LogSink, Record};
use crate::accounting::{Account, Limits, Reservation, Totals};
use crate::error::ApiError;
use crate::pricing::PriceBook;
use crate::routing::model_name::glob_match;
use crate::settings::MissingPrice;
use crate::store::logs::LogEntry;
use crate::store::prices::{self as price_store, PriceRow};
use crate::store::tokens::{self as store, models_from_db, NewToken, Role, TokenPatch};
use crate::time::now_ms;
use crate::upstream::Usage;

/// What the request path needs to know about a token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i32,
    pub name: String,
    pub role: Role,
    pub allowed_models: Option<Vec<String>>,
    pub limits: Limits,
    pub expires_at: Option<i64>,
    pub enabled: bool,
}

impl TokenInfo {
    pub fn from_row(row: &token::Model) -> TokenInfo {
        TokenInfo {
            id: row.id,
            name: row.name.clone(),
            role: Role::parse(&row.role).unwrap_or(Role::Client),
            allowed_models: models_from_db(row.allowed_models.as_deref()),
            limits: Limits {
                max_tokens: row.max_tokens,
                max_amount_nano: row.max_amount_nano,
                rpm: row.rpm,
                tpm: row.tpm,
            },
            expires_at: row.expires_at,
            enabled: row.enabled,
        }
    }

    /// Enabled and not expired at `now_ms`.
    pub fn check_usable(&self, now_ms: i64) -> Result<(), ApiError> {
        if !self.enabled {
            return Err(ApiError::TokenDisabled);
        }
        if self.expires_at.is_some_and(|t| t <= now_ms) {
            return Err(ApiError::TokenExpired);
        }
        Ok(())
    }

    /// Whether this token may call `model` (the name without any provider prefix) on
    /// `provider`, the provider routing chose. A pattern without `/` names the bare model
    /// (`gpt-4o*`: on any provider); a pattern with `/` names `provider/model` (`openai/*`:
    /// only there; `*/meta-llama/*` for names that contain a slash themselves). Adding or
    /// dropping a prefix in the request therefore cannot widen what is allowed.
    pub fn allows(&self, provider: &str, model: &str) -> bool {
        let Some(list) = self.allowed_models.as_deref() else {
            return true;
        };
        let qualified = format!("{provider}/{model}");
        list.iter().any(|p| {
            if p.contains('/') {
                glob_match(p, &qualified)
            } else {
                glob_match(p, model)
            }
        })
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
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

struct Entry {
    info: Arc<TokenInfo>,
    hash: String,
    account: Account,
}

/// Ledger settings.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    pub enabled: bool,
    pub missing_price: MissingPrice,
    pub default_completion_tokens: i64,
    pub negative_ttl: Duration,
    pub sync_interval: Duration,
}

pub struct UsageLedger {
    db: DatabaseConnection,
    logs: Addr<LogSink>,
    config: LedgerConfig,
    entries: HashMap<i32, Entry>,
    by_hash: HashMap<String, i32>,
    unknown: HashMap<String, Instant>,
    prices: PriceBook,
    price_rows: Vec<PriceRow>,
    warned_unpriced: HashSet<(String, String)>,
    synced_until: i64,
    syncing: bool,
}

impl UsageLedger {
    pub fn new(
        db: DatabaseConnection,
        logs: Addr<LogSink>,
        config: LedgerConfig,
        prices: Vec<PriceRow>,
    ) -> Self {
        UsageLedger {
            db,
            logs,
            config,
            entries: HashMap::new(),
            by_hash: HashMap::new(),
            unknown: HashMap::new(),
            prices: book(&prices),
            price_rows: prices,
            warned_unpriced: HashSet::new(),
            synced_until: now_ms(),
            syncing: false,
        }
    }

    /// Adds a token read from the database, or refreshes its settings (keeping the
    /// in-memory counters, which are ahead of the database's).
    fn upsert(&mut self, row: &token::Model) -> Arc<TokenInfo> {
        if row.deleted_at.is_some() {
            self.remove(row.id);
            return Arc::new(TokenInfo::from_row(row));
        }
        self.unknown.remove(&row.token_hash);
        let info = Arc::new(TokenInfo::from_row(row));
        match self.entries.get_mut(&row.id) {
            Some(entry) => entry.info = info.clone(),
            None => {
                self.by_hash.insert(row.token_hash.clone(), row.id);
                self.entries.insert(
                    row.id,
                    Entry {
                        info: info.clone(),
                        hash: row.token_hash.clone(),
                        account: Account::new(totals_of(row)),
                    },
                );
            }
        }
        info
    }

    fn remove(&mut self, id: i32) {
        if let Some(entry) = self.entries.remove(&id) {
            self.by_hash.remove(&entry.hash);
        }
    }

    fn price_of(&mut self, provider: &str, model: &str) -> Option<crate::pricing::Price> {
        let price = self.prices.lookup(provider, model);
        if price.is_none()
            && self.config.missing_price == MissingPrice::Zero
            && self
                .warned_unpriced
                .insert((provider.to_string(), model.to_string()))
        {
            log::warn!("no price for model '{model}' on provider '{provider}': billed at zero");
        }
        price
    }

    /// Picks up token and price changes made by the admin API of another instance.
    fn sync(&mut self, ctx: &mut Context<Self>) {
        if self.syncing {
            return;
        }
        self.syncing = true;
        // Overlap a little so a row committed during the previous read is not missed.
        let since = self.synced_until - 2 * self.config.sync_interval.as_millis() as i64 - 1000;
        let started = now_ms();
        let db = self.db.clone();
        async move {
            let tokens = store::changed_since(&db, since).await?;
            let prices = price_store::load(&db).await?;
            Ok::<_, sea_orm::DbErr>((tokens, prices))
        }
        .into_actor(self)
        .map(move |res, act, _| {
            act.syncing = false;
            match res {
                Ok((rows, prices)) => {
                    act.synced_until = started;
                    for row in rows {
                        if act.entries.contains_key(&row.id) {
                            act.upsert(&row);
                        }
                    }
                    if prices != act.price_rows {
                        act.prices = book(&prices);
                        act.price_rows = prices;
                    }
                }
                Err(e) => log::warn!("token sync failed: {e}"),
            }
            let ttl = act.config.negative_ttl;
            act.unknown.retain(|_, t| t.elapsed() < ttl);
        })
        .spawn(ctx);
    }
}

fn book(rows: &[PriceRow]) -> PriceBook {
    PriceBook::new(
        rows.iter()
            .map(|r| (r.provider.clone(), r.model.clone(), r.price)),
    )
}

impl Actor for UsageLedger {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.config.sync_interval, |act, ctx| act.sync(ctx));
    }
}

/// Looks a token up by the SHA-256 of its plaintext: memory first, then the database.
#[derive(Message)]
#[rtype(result = "Result<Arc<TokenInfo>, ApiError>")]
pub struct Authenticate {
    pub token_hash: String,
}

impl Handler<Authenticate> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<Arc<TokenInfo>, ApiError>>;

    fn handle(&mut self, msg: Authenticate, _: &mut Context<Self>) -> Self::Result {
        if let Some(id) = self.by_hash.get(&msg.token_hash) {
            return Box::pin(fut::ready(Ok(self.entries[id].info.clone())));
        }
        if let Some(seen) = self.unknown.get(&msg.token_hash) {
            if seen.elapsed() < self.config.negative_ttl {
                return Box::pin(fut::ready(Err(ApiError::InvalidToken)));
            }
        }
        let db = self.db.clone();
        let hash = msg.token_hash;
        let lookup = hash.clone();
        Box::pin(
            async move { store::find_by_hash(&db, &lookup).await }
                .into_actor(self)
                .map(move |res, act, _| match res {
                    Ok(Some(row)) => Ok(act.upsert(&row)),
                    Ok(None) => {
                        if act.unknown.len() > 100_000 {
                            act.unknown.clear();
                        }
                        act.unknown.insert(hash, Instant::now());
                        Err(ApiError::InvalidToken)
                    }
                    Err(e) => Err(ApiError::internal("cannot look up token", e)),
                }),
        )
    }
}

/// Admission: rate limits, budgets and prices for a call about to go upstream.
#[derive(Message)]
#[rtype(result = "Result<Admission, ApiError>")]
pub struct Admit {
    pub token_id: i32,
    /// `(provider, model)` of each candidate, in routing order.
    pub candidates: Vec<(String, String)>,
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

impl Handler<Admit> for UsageLedger {
    type Result = MessageResult<Admit>;

    fn handle(&mut self, msg: Admit, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.admit(msg))
    }
}

impl UsageLedger {
    fn admit(&mut self, msg: Admit) -> Result<Admission, ApiError> {
        let prices: Vec<_> = msg
            .candidates
            .iter()
            .map(|(p, m)| self.price_of(p, m))
            .collect();
        let usable: Vec<bool> = match self.config.missing_price {
            MissingPrice::Zero => vec![true; prices.len()],
            MissingPrice::Refuse => prices.iter().map(Option::is_some).collect(),
        };
        if !usable.iter().any(|u| *u) {
            let model = msg.candidates.first().map_or("", |c| c.1.as_str());
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
        let completion = if msg.generates {
            msg.max_completion_tokens
                .unwrap_or(self.config.default_completion_tokens)
                .max(0)
        } else {
            0
        };
        let estimate = Usage {
            prompt_tokens: msg.prompt_tokens,
            completion_tokens: completion,
            total_tokens: msg.prompt_tokens + completion,
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
        let entry = self
            .entries
            .get_mut(&msg.token_id)
            .ok_or(ApiError::InvalidToken)?;
        let limits = entry.info.limits;
        let reservation = entry.account.admit(
            msg.token_id,
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
}

/// The end of a call: prices its usage, settles its reservation and hands the log row on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settle {
    pub reservation: Option<Reservation>,
    pub entry: LogEntry,
}

impl Handler<Settle> for UsageLedger {
    type Result = ();

    fn handle(&mut self, msg: Settle, _: &mut Context<Self>) {
        let mut entry = msg.entry;
        if let (Some(provider), Some(model)) = (entry.provider.clone(), entry.model.clone()) {
            if entry.total_tokens > 0 {
                let usage = Usage {
                    prompt_tokens: entry.prompt_tokens,
                    completion_tokens: entry.completion_tokens,
                    total_tokens: entry.total_tokens,
                    cached_tokens: entry.cached_tokens,
                    reasoning_tokens: entry.reasoning_tokens,
                };
                entry.amount_nano = self
                    .price_of(&provider, &model)
                    .map_or(0, |p| p.cost_nano(&usage));
            }
        }
        if self.config.enabled {
            if let Some(e) = entry.token_id.and_then(|id| self.entries.get_mut(&id)) {
                if let Some(r) = &msg.reservation {
                    e.account.release(r);
                }
                let usage = Usage {
                    prompt_tokens: entry.prompt_tokens,
                    completion_tokens: entry.completion_tokens,
                    total_tokens: entry.total_tokens,
                    ..Usage::default()
                };
                e.account.record(&usage, entry.amount_nano, Instant::now());
            }
        }
        self.logs.do_send(Record(entry));
    }
}

/// Answers once every message sent before it has been handled (used at shutdown, so that
/// every settled call has reached the `LogSink`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for UsageLedger {
    type Result = ();

    fn handle(&mut self, _: Drain, _: &mut Context<Self>) {}
}

/// A token with its live counters, for `/v1/token/*` and `/admin/tokens`.
#[derive(Debug, Clone)]
pub struct TokenState {
    pub info: Arc<TokenInfo>,
    pub totals: Totals,
    pub reserved_nano: i64,
}

#[derive(Message)]
#[rtype(result = "Option<TokenState>")]
pub struct GetState {
    pub token_id: i32,
}

impl Handler<GetState> for UsageLedger {
    type Result = MessageResult<GetState>;

    fn handle(&mut self, msg: GetState, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.entries.get(&msg.token_id).map(|e| TokenState {
            info: e.info.clone(),
            totals: e.account.totals,
            reserved_nano: e.account.reserved_nano,
        }))
    }
}

/// A token row as the admin API shows it, with counters from memory where they are fresher.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub row: token::Model,
    pub totals: Totals,
}

impl UsageLedger {
    fn record_of(&self, row: token::Model) -> TokenRecord {
        let totals = self
            .entries
            .get(&row.id)
            .map_or_else(|| totals_of(&row), |e| e.account.totals);
        TokenRecord { row, totals }
    }
}

#[derive(Message)]
#[rtype(result = "Result<Vec<TokenRecord>, ApiError>")]
pub struct ListTokens;

impl Handler<ListTokens> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<Vec<TokenRecord>, ApiError>>;

    fn handle(&mut self, _: ListTokens, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::list(&db).await }
                .into_actor(self)
                .map(|res, act, _| {
                    let rows = res.map_err(|e| ApiError::internal("cannot list tokens", e))?;
                    Ok(rows.into_iter().map(|r| act.record_of(r)).collect())
                }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<TokenRecord, ApiError>")]
pub struct GetToken {
    pub id: i32,
}

fn token_not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("token {id} not found"))
}

impl Handler<GetToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TokenRecord, ApiError>>;

    fn handle(&mut self, msg: GetToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::find(&db, msg.id).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    let row = res
                        .map_err(|e| ApiError::internal("cannot read token", e))?
                        .ok_or_else(|| token_not_found(msg.id))?;
                    Ok(act.record_of(row))
                }),
        )
    }
}

/// Creates a token; answers with its row and the plaintext (never stored).
#[derive(Message)]
#[rtype(result = "Result<(TokenRecord, String), ApiError>")]
pub struct CreateToken(pub NewToken);

impl Handler<CreateToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(TokenRecord, String), ApiError>>;

    fn handle(&mut self, msg: CreateToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::create(&db, &msg.0, None).await }
                .into_actor(self)
                .map(|res, act, _| {
                    let (row, plain) =
                        res.map_err(|e| ApiError::internal("cannot create token", e))?;
                    act.upsert(&row);
                    Ok((act.record_of(row), plain))
                }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<TokenRecord, ApiError>")]
pub struct UpdateToken {
    pub id: i32,
    pub patch: TokenPatch,
}

impl Handler<UpdateToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TokenRecord, ApiError>>;

    fn handle(&mut self, msg: UpdateToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::update(&db, msg.id, &msg.patch).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    let row = res
                        .map_err(|e| ApiError::internal("cannot update token", e))?
                        .ok_or_else(|| token_not_found(msg.id))?;
                    act.upsert(&row);
                    Ok(act.record_of(row))
                }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct DeleteToken {
    pub id: i32,
}

impl Handler<DeleteToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: DeleteToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::soft_delete(&db, msg.id).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    if !res.map_err(|e| ApiError::internal("cannot delete token", e))? {
                        return Err(token_not_found(msg.id));
                    }
                    act.remove(msg.id);
                    Ok(())
                }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Vec<PriceRow>")]
pub struct ListPrices;

impl Handler<ListPrices> for UsageLedger {
    type Result = MessageResult<ListPrices>;

    fn handle(&mut self, _: ListPrices, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.price_rows.clone())
    }
}

/// Creates or replaces prices; in force for the next call.
#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct PutPrices(pub Vec<PriceRow>);

impl Handler<PutPrices> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: PutPrices, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                price_store::upsert(&db, &msg.0).await?;
                price_store::load(&db).await
            }
            .into_actor(self)
            .map(|res, act, _| {
                let rows = res.map_err(|e| ApiError::internal("cannot save prices", e))?;
                act.prices = book(&rows);
                act.price_rows = rows;
                act.warned_unpriced.clear();
                Ok(())
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(models: Option<Vec<&str>>) -> TokenInfo {
        TokenInfo {
            id: 1,
            name: "t".into(),
            role: Role::Client,
            allowed_models: models.map(|m| m.into_iter().map(String::from).collect()),
            limits: Limits::default(),
            expires_at: None,
            enabled: true,
        }
    }

    #[test]
    fn allow_list_bare_and_qualified() {
        let t = info(Some(vec!["gpt-4o-mini", "openai/gpt-4o"]));
        assert!(t.allows("openai", "gpt-4o-mini"));
        assert!(t.allows("other", "gpt-4o-mini"));
        assert!(t.allows("openai", "gpt-4o"));
        assert!(
            !t.allows("other", "gpt-4o"),
            "qualified rule binds the provider"
        );
        assert!(!t.allows("openai", "o1"));
        let t = info(Some(vec!["openai/*"]));
        assert!(t.allows("openai", "anything"));
        assert!(
            !t.allows("evil", "openai/anything"),
            "bare part cannot pose as provider"
        );
        assert!(!t.allows("evil", "gpt"));
        assert!(info(None).allows("p", "anything"));
        let t = info(Some(vec!["*/meta-llama/*"]));
        assert!(t.allows("hf", "meta-llama/Llama-3-8B"));
    }

    #[test]
    fn usability() {
        let mut t = info(None);
        assert!(t.check_usable(1000).is_ok());
        t.expires_at = Some(1000);
        assert!(matches!(t.check_usable(1000), Err(ApiError::TokenExpired)));
        t.enabled = false;
        assert!(matches!(t.check_usable(0), Err(ApiError::TokenDisabled)));
    }
}
