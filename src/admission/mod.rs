//! Admission: everything between "authenticated and parsed" and "a route with its
//! reservation", in two steps. `check` decides what is cheap to know — which providers
//! may serve the endpoint, the token's allow-list, a full minute or a spent budget —
//! before anything costly is done with the body (a stored conversation loaded, a request
//! translated). `admit` bounds the prompt over the call's legs (`bound`), refuses content
//! without a bound, prices, reserves the budget's allowance and sets the cap, and in a
//! cluster leases the budget and counts the shared rate window. What it takes is one
//! [`Hold`], which the call record settles or gives back. The handlers only parse before
//! them and forward after them.

mod bound;
mod hold;

pub use hold::Hold;

use crate::accounting::lease::Draw;
use crate::accounting::ledger::{Admission, AdmitRequest, LeaseGrant, LedgerState, Slot, SlotTry};
use crate::accounting::shared::SharedLimits;
use crate::accounting::token::TokenInfo;
use crate::core::endpoint::Endpoint;
use crate::error::ApiError;
use crate::routing::table::Route;
use crate::state::AppState;
use crate::store::budget_holds::Grant;
use crate::upstream::ClientRequest;

/// The cheap half of admission, before the body costs anything: the candidates of
/// `route` that serve `endpoint` and that the token may use, and the token's minute and
/// budget not already full.
pub fn check(
    state: &AppState,
    token: &TokenInfo,
    endpoint: Endpoint,
    mut route: Route,
) -> Result<Route, ApiError> {
    // Providers whose API cannot serve this endpoint are skipped before admission (token
    // counting keeps them: other types are answered with a local estimate).
    if endpoint != Endpoint::CountTokens {
        route
            .candidates
            .retain(|c| c.provider.record.api_type.serves(endpoint));
    }
    if route.candidates.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no provider serves {} for model '{}'",
            endpoint.name(),
            route.model
        )));
    }
    let route = restrict(token, route)?;
    // A shared budget's local view may be stale: `admit` asks the cluster before refusing.
    let budgets = !(state.shared.is_some() && state.accounts.has_budget(token.id));
    state.accounts.precheck(token.id, budgets)?;
    Ok(route)
}

/// A concurrency slot for a call of `token_id` that `check` passed (`None` without a
/// `max_parallel`), taken before anything costly is done with the body. In a cluster an
/// instance whose hold on the token's slots is full asks the database for one more, one
/// request at a time per token; refused, the call is a 429 like a full instance.
pub async fn take_slot(state: &AppState, token: &TokenInfo) -> Result<Option<Slot>, ApiError> {
    // Most tokens have no cap: nothing to count, no account to lock.
    if token.limits.max_parallel.is_none() {
        return Ok(None);
    }
    let token_id = token.id;
    let ledger = &state.accounts;
    let Some(shared) = &state.shared else {
        return LedgerState::take_slot(ledger, token_id);
    };
    let grow = |attempt: SlotTry| match attempt {
        SlotTry::Uncapped => Ok(None),
        SlotTry::Taken(slot) => Ok(Some(slot)),
        SlotTry::Grow { hold, want, max } => Err((hold, want, max)),
    };
    if let Ok(slot) = grow(LedgerState::try_slot(ledger, token_id, true)?) {
        return Ok(slot);
    }
    let lock = ledger.slot_lock(token_id).ok_or(ApiError::InvalidToken)?;
    let _one_at_a_time = lock.lock().await;
    // The request before this one may have grown the hold.
    let (hold, want, max) = match grow(LedgerState::try_slot(ledger, token_id, true)?) {
        Ok(slot) => return Ok(slot),
        Err(ask) => ask,
    };
    match shared.grow_slots(token_id, hold, want, max).await? {
        Some(id) => Ok(Some(LedgerState::slot_granted(ledger, token_id, id, want))),
        None => Err(ApiError::ConcurrencyLimit(format!(
            "this token already has {max} calls in flight across the cluster (max_parallel); \
             retry when one ends"
        ))),
    }
}

/// Admits a call of `token` to `endpoint` that `check` passed: the candidates of `route`
/// it may use (with their maximum outputs), its [`Hold`] on the token's limits given to
/// the call record, and the prompt bound and the budget's allowance set on `parsed` (the cap each
/// attempt sends).
pub async fn admit(
    state: &AppState,
    token: &TokenInfo,
    endpoint: Endpoint,
    parsed: &mut ClientRequest,
    mut route: Route,
    slot: Option<Slot>,
    searches_at_least: &mut i64,
) -> Result<(Route, Hold), ApiError> {
    if endpoint != Endpoint::CountTokens {
        let bound = bound::over_legs(endpoint, parsed, &route)?;
        parsed.prompt_tokens = bound.tokens;
        parsed.unbounded = bound.unbounded;
        parsed.cache = bound.cache;
        parsed.web_searches = bound.web_searches;
        *searches_at_least = bound.searches_certain;
    }
    if let (Some(why), true, true) = (
        &parsed.unbounded,
        token.limits.max_tokens.is_some() || token.limits.max_amount.is_some(),
        endpoint.generates(),
    ) {
        return Err(ApiError::invalid(format!(
            "this token has a budget, and the request holds content whose cost cannot be \
             bounded before the call: {why}"
        )));
    }
    let admit = |route: &Route| {
        state.accounts.admit(AdmitRequest {
            token_id: token.id,
            candidates: route
                .candidates
                .iter()
                .map(|c| (c.provider.record.name.as_str(), c.upstream_model.as_str()))
                .collect(),
            // Counting reserves nothing (its bound is not computed: 0); it only counts
            // toward the rate limits.
            prompt_tokens: parsed.prompt_tokens,
            client_cap: parsed.client_cap,
            choices: parsed.n,
            generates: endpoint.generates(),
            free: endpoint == Endpoint::CountTokens,
            unpriced_tier: parsed.unpriced_tier.as_deref(),
            cache: parsed.cache,
            web_searches: parsed.web_searches,
        })
    };
    let budget_shared = state
        .shared
        .as_ref()
        .filter(|_| state.accounts.has_budget(token.id));
    let mut admission = match (admit(&route), budget_shared) {
        // What this instance knows of the others' spend may be stale (their calls ended):
        // ask the database before refusing.
        (Err(ApiError::InsufficientQuota(_)), Some(shared)) => {
            let global = shared.global(token.id).await?;
            state
                .accounts
                .learn_cluster(token.id, global.tokens, global.nano);
            admit(&route)?
        }
        (other, _) => other?,
    };
    let mut hold = Hold::new(state.accounts.clone(), state.shared.clone());
    hold.occupy(slot);
    hold.reserve(admission.reservation);
    if let (Some(shared), Some((rpm, tpm)), Some(reservation)) = (
        &state.shared,
        state.accounts.rate_limits(token.id),
        admission.reservation,
    ) {
        // The minute's requests and tokens across the cluster; with a tpm, the window's
        // tokens shrink to the call's usage when it settles.
        let share = shared
            .count_in_window(token.id, rpm, tpm, reservation.tokens)
            .await?;
        if tpm.is_some() {
            hold.counted_in(share);
        }
    }
    if let Some(shared) = budget_shared {
        admission = lease_in_cluster(state, shared, &mut hold, token.id, admission, || {
            admit(&route)
        })
        .await?;
    }
    parsed.allowance = admission.allowance;
    for (candidate, max_output) in route.candidates.iter_mut().zip(admission.max_output) {
        candidate.max_output = max_output;
    }
    let mut usable = admission.usable.into_iter();
    route.candidates.retain(|_| usable.next().unwrap_or(false));
    Ok((route, hold))
}

/// Keeps only the providers this token may use for the model; 403 when none is left.
fn restrict(token: &TokenInfo, mut route: Route) -> Result<Route, ApiError> {
    let bare = route.bare.clone();
    route
        .candidates
        .retain(|c| token.allows(&c.provider.record.name, &bare));
    if route.candidates.is_empty() {
        return Err(ApiError::PermissionDenied(format!(
            "this token may not use model '{}'",
            route.requested
        )));
    }
    Ok(route)
}

/// In a cluster, a budgeted call must be covered by this instance's lease on the token's
/// budget, a slice held in the database where every instance's leases meet. Usually it is,
/// and nothing waits on the database. If not, the instance asks for the call's need plus
/// a slice for the calls after it, then for the need alone; refused, the call learns the
/// cluster's figures and is admitted again with the allowance they leave (a smaller
/// completion cap); refused again, it is a 429 like any exhausted budget.
async fn lease_in_cluster(
    state: &AppState,
    shared: &SharedLimits,
    hold: &mut Hold,
    token_id: i32,
    first: Admission,
    readmit: impl Fn() -> Result<Admission, ApiError>,
) -> Result<Admission, ApiError> {
    let ttl_ms = shared.lease_ttl_ms();
    let mut admission = first;
    for attempt in 0..2 {
        let Some(reservation) = admission.reservation else {
            return Ok(admission);
        };
        let draw = || {
            state
                .accounts
                .draw_lease(&reservation)
                .ok_or(ApiError::InvalidToken)
        };
        if let Draw::Covered(id) = draw()? {
            hold.drew_from(id);
            return Ok(admission);
        }
        // One request for more at a time per token; the one before may have covered this.
        let lock = state
            .accounts
            .lease_lock(token_id)
            .ok_or(ApiError::InvalidToken)?;
        let _one_at_a_time = lock.lock().await;
        let short = match draw()? {
            Draw::Covered(id) => {
                hold.drew_from(id);
                return Ok(admission);
            }
            Draw::Short(short) => short,
        };
        let mut asks = vec![(
            short.need_tokens.saturating_add(short.slice_tokens),
            short.need_nano.saturating_add(short.slice_nano),
        )];
        if short.slice_tokens > 0 || short.slice_nano > 0 {
            asks.push((short.need_tokens, short.need_nano));
        }
        let mut global = None;
        for (tokens, nano) in asks {
            match shared.grant(token_id, short.lease, tokens, nano).await? {
                Grant::Granted {
                    id,
                    renewed,
                    global,
                } => {
                    state.accounts.lease_granted(
                        token_id,
                        LeaseGrant {
                            id,
                            renewed,
                            tokens,
                            nano,
                            valid_ms: ttl_ms / 2,
                            global_tokens: global.tokens,
                            global_nano: global.nano,
                        },
                    );
                    hold.drew_from(id);
                    return Ok(admission);
                }
                Grant::Refused(g) => global = Some(g),
            }
        }
        // Refused: give the local reservation back, learn what the cluster holds.
        hold.release();
        if let Some(g) = global {
            state.accounts.learn_cluster(token_id, g.tokens, g.nano);
        }
        if attempt == 1 {
            break;
        }
        admission = readmit()?;
        hold.reserve(admission.reservation);
    }
    Err(ApiError::InsufficientQuota(
        "token budget is spent or held by calls in flight across the cluster".into(),
    ))
}

#[cfg(test)]
mod hold_tests;
