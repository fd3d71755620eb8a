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
use crate::accounting::ledger::{
    slots_full, Admission, AdmitRequest, LeaseGrant, LedgerState, Slot, SlotTry,
};
use crate::accounting::shared::SharedLimits;
use crate::accounting::team::TeamInfo;
use crate::accounting::token::TokenInfo;
use crate::accounting::AccountKey;
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
    let team = team_of(state, token)?;
    if let Some(team) = &team {
        team.check_usable()?;
    }
    let route = restrict(token, team.as_deref(), route)?;
    for key in accounts(token) {
        // A shared budget's local view may be stale: `admit` asks the cluster before
        // refusing.
        let budgets = !(state.shared.is_some() && state.accounts.has_budget(key));
        state.accounts.precheck(key, budgets)?;
    }
    Ok(route)
}

/// The accounts a call of `token` answers to: the token's, then its team's.
fn accounts(token: &TokenInfo) -> impl Iterator<Item = AccountKey> {
    std::iter::once(AccountKey::Token(token.id)).chain(token.team_id.map(AccountKey::Team))
}

/// The token's team, as this instance knows it; a team it does not know (yet) refuses.
fn team_of(
    state: &AppState,
    token: &TokenInfo,
) -> Result<Option<std::sync::Arc<TeamInfo>>, ApiError> {
    let Some(id) = token.team_id else {
        return Ok(None);
    };
    state.accounts.team(id).map(Some).ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "this token's team ({id}) is not known to this instance yet; retry shortly"
        ))
    })
}

/// The concurrency slots of a call of `token` that `check` passed (one per account with a
/// `max_parallel`: the token's, its team's), taken before anything costly is done with the
/// body. In a cluster an instance whose hold on an account's slots is full asks the
/// database for one more, one request at a time per account; refused, the call is a 429
/// like a full instance (and the slots already taken go back with the vector).
pub async fn take_slots(state: &AppState, token: &TokenInfo) -> Result<Vec<Slot>, ApiError> {
    let mut slots = Vec::new();
    for key in accounts(token) {
        // Most accounts have no cap: nothing to count, no account to lock.
        let capped = match key {
            AccountKey::Token(_) => token.limits.max_parallel.is_some(),
            AccountKey::Team(id) => state
                .accounts
                .team(id)
                .is_some_and(|t| t.limits.max_parallel.is_some()),
        };
        if capped {
            slots.extend(take_slot(state, key).await?);
        }
    }
    Ok(slots)
}

async fn take_slot(state: &AppState, key: AccountKey) -> Result<Option<Slot>, ApiError> {
    let ledger = &state.accounts;
    let Some(shared) = &state.shared else {
        return LedgerState::take_slot(ledger, key);
    };
    let grow = |attempt: SlotTry| match attempt {
        SlotTry::Uncapped => Ok(None),
        SlotTry::Taken(slot) => Ok(Some(slot)),
        SlotTry::Grow { hold, want, max } => Err((hold, want, max)),
    };
    if let Ok(slot) = grow(LedgerState::try_slot(ledger, key, true)?) {
        return Ok(slot);
    }
    let lock = ledger.slot_lock(key).ok_or(ApiError::InvalidToken)?;
    let _one_at_a_time = lock.lock().await;
    // The request before this one may have grown the hold.
    let (hold, want, max) = match grow(LedgerState::try_slot(ledger, key, true)?) {
        Ok(slot) => return Ok(slot),
        Err(ask) => ask,
    };
    match shared.grow_slots(key, hold, want, max).await? {
        Some(id) => Ok(Some(LedgerState::slot_granted(ledger, key, id, want))),
        None => Err(slots_full(key, max, " across the cluster")),
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
    slots: Vec<Slot>,
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
    // The token's own settings are at hand; only a team needs a look-up.
    let budgeted = token.limits.has_budget()
        || token
            .team_id
            .is_some_and(|id| state.accounts.has_budget(AccountKey::Team(id)));
    if let (Some(why), true, true) = (&parsed.unbounded, budgeted, endpoint.generates()) {
        return Err(ApiError::invalid(format!(
            "this token (or its team) has a budget, and the request holds content whose \
             cost cannot be bounded before the call: {why}"
        )));
    }
    let admit = |route: &Route| {
        state.accounts.admit(AdmitRequest {
            token_id: token.id,
            team_id: token.team_id,
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
    let shared_budgets: Vec<AccountKey> = match &state.shared {
        Some(_) => accounts(token)
            .filter(|key| state.accounts.has_budget(*key))
            .collect(),
        None => Vec::new(),
    };
    let mut admission = match (admit(&route), &state.shared) {
        // What this instance knows of the others' spend may be stale (their calls ended):
        // ask the database before refusing.
        (Err(ApiError::InsufficientQuota { .. }), Some(shared)) if !shared_budgets.is_empty() => {
            for key in &shared_budgets {
                let period = state.accounts.period_start(*key);
                let global = shared.global(*key, period).await?;
                state
                    .accounts
                    .learn_cluster(*key, global.tokens, global.nano);
            }
            admit(&route)?
        }
        (other, _) => other?,
    };
    let mut hold = Hold::new(state.accounts.clone(), state.shared.clone());
    hold.occupy(slots);
    hold.reserve([admission.reservation, admission.team_reservation]);
    if let (Some(shared), Some(reservation)) = (&state.shared, admission.reservation) {
        for key in accounts(token) {
            let Some((rpm, tpm)) = state.accounts.rate_limits(key) else {
                continue;
            };
            // The minute's requests and tokens across the cluster; with a tpm, the
            // window's tokens shrink to the call's usage when it settles.
            let share = shared
                .count_in_window(key, rpm, tpm, reservation.tokens)
                .await?;
            if tpm.is_some() {
                hold.counted_in(share);
            }
        }
    }
    if let (Some(shared), false) = (&state.shared, shared_budgets.is_empty()) {
        admission = lease_in_cluster(state, shared, &mut hold, &shared_budgets, admission, || {
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

/// Keeps only the providers this token and its team may both use for the model; 403
/// when none is left.
fn restrict(
    token: &TokenInfo,
    team: Option<&TeamInfo>,
    mut route: Route,
) -> Result<Route, ApiError> {
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
    if let Some(team) = team {
        route
            .candidates
            .retain(|c| team.allows(&c.provider.record.name, &bare));
        if route.candidates.is_empty() {
            return Err(ApiError::PermissionDenied(format!(
                "this token's team may not use model '{}'",
                route.requested
            )));
        }
    }
    Ok(route)
}

/// In a cluster, a budgeted call must be covered by this instance's lease on each budget
/// it answers to (the token's, the team's), a slice held in the database where every
/// instance's leases meet. Usually it is, and nothing waits on the database. If not, the
/// instance asks for the call's need plus a slice for the calls after it, then for the
/// need alone; refused, the call learns the cluster's figures and is admitted again with
/// the allowance they leave (a smaller completion cap); refused again, it is a 429 like
/// any exhausted budget. A lease granted before a refusal stays this instance's (the next
/// calls draw on it).
async fn lease_in_cluster(
    state: &AppState,
    shared: &SharedLimits,
    hold: &mut Hold,
    keys: &[AccountKey],
    first: Admission,
    readmit: impl Fn() -> Result<Admission, ApiError>,
) -> Result<Admission, ApiError> {
    let mut admission = first;
    let mut refused = AccountKey::Token(0);
    for attempt in 0..2 {
        let mut all = true;
        for key in keys {
            let Some(reservation) = hold.reservation(*key).copied() else {
                continue;
            };
            match lease_one(state, shared, hold, reservation).await? {
                true => {}
                false => {
                    all = false;
                    refused = *key;
                    break;
                }
            }
        }
        if all {
            return Ok(admission);
        }
        // Refused: give the local reservations back (the call is admitted again).
        hold.release();
        if attempt == 1 {
            break;
        }
        admission = readmit()?;
        hold.reserve([admission.reservation, admission.team_reservation]);
    }
    let resets = state.accounts.resets_in_secs(refused);
    Err(ApiError::insufficient_quota(
        format!(
            "{} budget is spent or held by calls in flight across the cluster",
            refused.kind()
        ),
        resets,
    ))
}

/// Covers one reservation by this instance's lease on its account, asking the database
/// for more when it is short; false when the database refused (the cluster's figures
/// learnt).
async fn lease_one(
    state: &AppState,
    shared: &SharedLimits,
    hold: &mut Hold,
    reservation: crate::accounting::Reservation,
) -> Result<bool, ApiError> {
    let key = reservation.key;
    let draw = || {
        state
            .accounts
            .draw_lease(&reservation)
            .ok_or(ApiError::InvalidToken)
    };
    if let Draw::Covered(id) = draw()? {
        hold.drew_from(key, id);
        return Ok(true);
    }
    // One request for more at a time per account; the one before may have covered this.
    let lock = state
        .accounts
        .lease_lock(key)
        .ok_or(ApiError::InvalidToken)?;
    let _one_at_a_time = lock.lock().await;
    let short = match draw()? {
        Draw::Covered(id) => {
            hold.drew_from(key, id);
            return Ok(true);
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
    let period = state.accounts.period_start(key);
    let mut global = None;
    for (tokens, nano) in asks {
        match shared.grant(key, period, short.lease, tokens, nano).await? {
            Grant::Granted {
                id,
                renewed,
                global,
            } => {
                state.accounts.lease_granted(
                    key,
                    LeaseGrant {
                        id,
                        renewed,
                        tokens,
                        nano,
                        valid_ms: shared.lease_ttl_ms() / 2,
                        global_tokens: global.tokens,
                        global_nano: global.nano,
                    },
                );
                hold.drew_from(key, id);
                return Ok(true);
            }
            Grant::Refused(g) => global = Some(g),
        }
    }
    if let Some(g) = global {
        state.accounts.learn_cluster(key, g.tokens, g.nano);
    }
    Ok(false)
}

#[cfg(test)]
mod hold_tests;
