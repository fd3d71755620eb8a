//! `UsageLedger`: owns gateway tokens, their accounts and prices. It loads tokens the request
//! path has not seen (with a negative cache against floods of bad tokens), performs the admin
//! operations on tokens and prices, and picks up changes made by other instances. The state
//! itself is a `LedgerState` shared with request handlers, which authenticate, admit and
//! settle known tokens directly (see `accounting::ledger`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use actix::prelude::*;
use entity::token;
use sea_orm::DatabaseConnection;

use crate::accounting::ledger::{period_of, totals_of, LedgerState};
use crate::accounting::period::BudgetPeriod;
use crate::accounting::token::TokenInfo;
use crate::accounting::upkeep;
use crate::error::ApiError;
use crate::pricing::PriceBook;
use crate::store::prices::{self as price_store, PriceRow};
use crate::store::tokens::{self as store};
use crate::time::now_ms;

mod price_admin;
mod team_admin;
mod token_admin;

pub use price_admin::{DeletePrice, ListPrices, PutPrices};
pub use team_admin::{CreateTeam, DeleteTeam, GetTeam, ListTeams, TeamRecord, UpdateTeam};
pub use token_admin::{CreateToken, DeleteToken, GetToken, ListTokens, TokenRecord, UpdateToken};

/// Callers waiting for the same token's look-up.
type Waiters = Vec<oneshot::Sender<Result<Arc<TokenInfo>, ApiError>>>;

pub struct UsageLedger {
    db: DatabaseConnection,
    state: Arc<LedgerState>,
    /// Look-ups under way, by token hash: concurrent callers share one query.
    inflight: HashMap<String, Waiters>,
    sync_interval: Duration,
    price_rows: Vec<PriceRow>,
    /// The database's time at the start of the last good sync (`None` before the first).
    synced_until: Option<i64>,
    syncing: bool,
    /// A sync was asked for while one ran: run another when it ends.
    resync: bool,
    /// Budget leases' TTL when budgets are shared through the database (else `None`).
    lease_ttl_ms: Option<i64>,
    /// A lease round (give back, renew, expire) is under way.
    tending: bool,
}

pub fn price_book(rows: &[PriceRow]) -> PriceBook {
    PriceBook::new(
        rows.iter()
            .map(|r| (r.provider.clone(), r.model.clone(), r.price)),
    )
}

impl UsageLedger {
    pub fn new(
        db: DatabaseConnection,
        state: Arc<LedgerState>,
        prices: Vec<PriceRow>,
        sync_interval: Duration,
        lease_ttl_ms: Option<i64>,
    ) -> Self {
        UsageLedger {
            db,
            state,
            inflight: HashMap::new(),
            sync_interval,
            price_rows: prices,
            synced_until: None,
            syncing: false,
            resync: false,
            lease_ttl_ms,
            tending: false,
        }
    }

    /// Picks up token and price changes made by the admin API of another instance.
    fn sync(&mut self, ctx: &mut Context<Self>) {
        if self.syncing {
            self.resync = true;
            return;
        }
        self.syncing = true;
        // Overlap a little so a row committed during the previous read is not missed. Both
        // ends are the database's clock, as are the change timestamps (`db_now`).
        let margin = 2 * self.sync_interval.as_millis() as i64 + 1000;
        let last = self.synced_until;
        let db = self.db.clone();
        async move {
            let started = crate::store::db_now(&db).await?;
            let since = last.unwrap_or(started) - margin;
            // Every token created or changed anywhere: new tokens become known without a
            // look-up (so a flood of bad tokens, whose look-ups are rate-limited, cannot keep
            // a new one out), changed ones are refreshed. Usage does not count as a change.
            let rows = store::changed_since(&db, since).await?;
            // Teams first (a token's team must be known when the token is): every team at
            // the first sync, changes after.
            let teams = crate::store::teams::changed_since(
                &db,
                if last.is_none() { i64::MIN } else { since },
            )
            .await?;
            let prices = price_store::load(&db).await?;
            Ok::<_, sea_orm::DbErr>((started, teams, rows, prices))
        }
        .into_actor(self)
        .map(move |res, act, ctx| {
            act.syncing = false;
            match res {
                Ok((started, teams, rows, prices)) => {
                    act.synced_until = Some(started);
                    for team in teams {
                        act.state.upsert_team(&team);
                    }
                    for row in rows {
                        act.state.upsert(&row);
                    }
                    if prices != act.price_rows {
                        act.state.set_prices(price_book(&prices));
                        act.price_rows = prices;
                    }
                }
                Err(e) => log::warn!("token sync failed: {e}"),
            }
            if std::mem::take(&mut act.resync) {
                act.sync(ctx);
            }
        })
        .spawn(ctx);
    }

    /// A round of budget-lease upkeep, on its own tick (not on every announced change, so
    /// "no call drew on it since the last round" keeps meaning one sync interval): unused
    /// leases go back (kept here if that fails), those in use are renewed, leases of dead
    /// instances expire, old rate windows go.
    fn tend_leases(&mut self, ctx: &mut Context<Self>) {
        let Some(ttl) = self.lease_ttl_ms else {
            return;
        };
        if std::mem::replace(&mut self.tending, true) {
            return;
        }
        let (idle, live) = self.state.lease_tick();
        // Concurrency holds shrink to what is in flight (and are renewed); each token's
        // growers wait until its new size is written.
        let slots = self.state.slot_tick();
        let db = self.db.clone();
        async move {
            if let Err(e) = upkeep::resize_slots(&db, &slots, ttl).await {
                log::warn!("cannot shrink or renew concurrency holds: {e}; they expire by themselves");
            }
            drop(slots);
            let returned = upkeep::give_back(&db, &idle).await;
            let renewed = upkeep::renew(&db, &live, ttl).await;
            let expired = upkeep::expire(&db).await;
            let pruned = upkeep::prune_windows(&db).await;
            (idle, returned, live, renewed, expired, pruned)
        }
        .into_actor(self)
        .map(move |(idle, returned, live, renewed, expired, pruned), act, _| {
            act.tending = false;
            if let Err(e) = returned {
                log::warn!("cannot give budget leases back: {e}; kept for now");
                act.state.restore_leases(&idle);
            }
            match renewed {
                Ok(()) => act.state.leases_renewed(&live, ttl / 2),
                Err(e) => log::warn!("cannot renew budget leases: {e}"),
            }
            match expired {
                Ok(0) => {}
                Ok(n) => log::warn!(
                    "{n} token(s) or team(s) had a budget lease expire unreturned (an instance stopped without shutting down)"
                ),
                Err(e) => log::warn!("cannot expire budget leases: {e}"),
            }
            if let Err(e) = pruned {
                log::warn!("cannot prune rate windows: {e}");
            }
        })
        .spawn(ctx);
    }

    /// A token as the admin API shows it: the row just read (every instance's written
    /// usage) merged with this instance's live counters.
    fn record_of(&self, row: token::Model) -> TokenRecord {
        self.state.learn_totals(&row);
        let (totals, period, resets_at) = match self.state.state(row.id) {
            Some(s) => (s.totals, s.period, s.resets_at),
            None => {
                let (period, resets_at) = self.state.period_now(
                    BudgetPeriod::from_stored(&row.budget_period),
                    row.created_at,
                    period_of(&row),
                );
                (totals_of(&row), period, resets_at)
            }
        };
        TokenRecord {
            row,
            totals,
            period,
            resets_at,
        }
    }
}

/// Refreshes a token's cluster-wide counters from the database when they are older than
/// one sync interval (several instances: `/v1/token/*` show the cluster's usage).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RefreshTotals(pub i32);

impl Handler<RefreshTotals> for UsageLedger {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: RefreshTotals, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let stale = self.state.cluster_totals_stale(msg.0, self.sync_interval);
        // The token's team too: its balance is shown with the token's.
        let team = self
            .state
            .state(msg.0)
            .and_then(|s| s.info.team_id)
            .filter(|id| self.state.team_totals_stale(*id, self.sync_interval));
        Box::pin(
            async move {
                let token = if stale {
                    store::find(&db, msg.0).await?
                } else {
                    None
                };
                let team = match team {
                    Some(id) => crate::store::teams::find(&db, id).await?,
                    None => None,
                };
                Ok::<_, sea_orm::DbErr>((token, team))
            }
            .into_actor(self)
            .map(|res, act, _| match res {
                Ok((token, team)) => {
                    if let Some(row) = token {
                        act.state.learn_totals(&row);
                    }
                    if let Some(row) = team {
                        act.state.learn_team_totals(&row);
                    }
                }
                Err(e) => log::warn!("cannot read a token's cluster-wide usage: {e}"),
            }),
        )
    }
}

/// At shutdown, once calls have drained and their usage is written: gives every budget
/// lease's unused part back, so the other instances can spend it at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReturnLeases;

impl Handler<ReturnLeases> for UsageLedger {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: ReturnLeases, _: &mut Context<Self>) -> Self::Result {
        let leases = self.state.return_leases();
        let slots = self.state.slot_tick();
        let ttl = self.lease_ttl_ms.unwrap_or(0);
        let db = self.db.clone();
        Box::pin(async move {
            if let Err(e) = upkeep::resize_slots(&db, &slots, ttl).await {
                log::warn!("cannot return concurrency holds: {e}; they expire by themselves");
            }
            if let Err(e) = upkeep::give_back(&db, &leases).await {
                log::warn!(
                    "cannot return {} budget lease(s): {e}; they expire by themselves",
                    leases.len()
                );
            }
        })
    }
}

/// Syncs now rather than at the next tick: another instance announced a change.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncTokens;

impl Handler<SyncTokens> for UsageLedger {
    type Result = ();

    fn handle(&mut self, _: SyncTokens, ctx: &mut Context<Self>) {
        self.sync(ctx);
    }
}

impl Actor for UsageLedger {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.sync_interval, |act, ctx| act.sync(ctx));
        if self.lease_ttl_ms.is_some() {
            ctx.run_interval(self.sync_interval, |act, ctx| act.tend_leases(ctx));
        }
    }
}

/// Looks up a token the request path does not know (the caller has checked the negative
/// cache and taken a look-up permit). Concurrent look-ups of one token share a query.
#[derive(Message)]
#[rtype(result = "Result<Arc<TokenInfo>, ApiError>")]
pub struct Authenticate {
    pub token_hash: String,
}

impl Handler<Authenticate> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<Arc<TokenInfo>, ApiError>>;

    fn handle(&mut self, msg: Authenticate, _: &mut Context<Self>) -> Self::Result {
        if let Some(info) = self.state.lookup(&msg.token_hash) {
            return Box::pin(fut::ready(Ok(info)));
        }
        if let Some(waiters) = self.inflight.get_mut(&msg.token_hash) {
            let (tx, rx) = oneshot::channel();
            waiters.push(tx);
            return Box::pin(
                async move {
                    rx.await
                        .unwrap_or_else(|e| Err(ApiError::internal("token look-up dropped", e)))
                }
                .into_actor(self),
            );
        }
        self.inflight.insert(msg.token_hash.clone(), Vec::new());
        let db = self.db.clone();
        let hash = msg.token_hash;
        let lookup = hash.clone();
        Box::pin(
            async move { store::find_by_hash(&db, &lookup).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    let result = match res {
                        Ok(Some(row)) => Ok(act.state.upsert(&row)),
                        Ok(None) => {
                            act.state.remember_unknown(hash.clone(), now_ms());
                            Err(ApiError::InvalidToken)
                        }
                        Err(e) => Err(ApiError::internal("cannot look up token", e)),
                    };
                    for waiter in act.inflight.remove(&hash).unwrap_or_default() {
                        let _ = waiter.send(result.clone());
                    }
                    result
                }),
        )
    }
}
