//! In process: a hold keeps its reservation while it lives, gives it back when dropped
//! unsettled, and puts the call's usage in its place when settled.

use std::sync::Arc;

use entity::token;

use super::Hold;
use crate::accounting::ledger::{AdmitRequest, LedgerConfig, LedgerState};
use crate::accounting::AccountKey;
use crate::error::ApiError;
use crate::pricing::{CacheAsk, PriceBook};
use crate::settings::MissingPrice;
use crate::store::log_entry::LogEntry;

const TOKEN: i32 = 7;
const KEY: AccountKey = AccountKey::Token(TOKEN);

fn ledger(max_tokens: i64) -> Arc<LedgerState> {
    ledger_with(max_tokens, None)
}

fn ledger_with(max_tokens: i64, max_parallel: Option<i32>) -> Arc<LedgerState> {
    let ledger = LedgerState::new(
        LedgerConfig {
            enabled: true,
            negative_cache_ms: 1000,
            lookups_per_sec: 1,
            missing_price: MissingPrice::Zero,
            default_completion_tokens: 100,
            time_zone: jiff::tz::TimeZone::UTC,
            alert_thresholds: Vec::new(),
        },
        PriceBook::new(std::iter::empty()),
    );
    ledger.upsert(&token::Model {
        id: TOKEN,
        name: "t".into(),
        token_hash: "h".into(),
        token_prefix: "gz-".into(),
        role: entity::columns::Role::Client,
        allowed_models: None,
        max_tokens: Some(max_tokens),
        max_amount_nano: None,
        expires_at: None,
        enabled: true,
        rpm: None,
        tpm: None,
        max_parallel,
        team_id: None,
        budget_period: "none".into(),
        period_start: 0,
        period_tokens: 0,
        period_nano: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        amount_spent_nano: 0,
        request_count: 0,
        created_at: 0,
        updated_at: 1,
        last_used_at: None,
        deleted_at: None,
    });
    Arc::new(ledger)
}

/// Admits a call of 100 prompt tokens capped at 100 (it reserves 200) into a new hold.
fn admit(ledger: &Arc<LedgerState>) -> Result<Hold, ApiError> {
    let admission = ledger.admit(AdmitRequest {
        token_id: TOKEN,
        team_id: None,
        candidates: vec![("p", "m")],
        prompt_tokens: 100,
        client_cap: Some(100),
        choices: 1,
        generates: true,
        free: false,
        unpriced_tier: None,
        cache: CacheAsk::default(),
        web_searches: 0,
    })?;
    let mut hold = Hold::new(ledger.clone(), None);
    hold.reserve([admission.reservation, admission.team_reservation]);
    Ok(hold)
}

fn used(total: i64) -> LogEntry {
    LogEntry {
        token_id: Some(TOKEN),
        provider: Some("p".into()),
        model: Some("m".into()),
        prompt_tokens: total / 2,
        completion_tokens: total - total / 2,
        total_tokens: total,
        ..LogEntry::default()
    }
}

#[test]
fn a_live_hold_keeps_its_reservation() {
    let ledger = ledger(300);
    let first = admit(&ledger).unwrap();
    assert!(first.reservation(KEY).is_some_and(|r| r.tokens == 200));
    assert!(
        matches!(admit(&ledger), Err(ApiError::InsufficientQuota { .. })),
        "200 of 300 are held: another 200 does not fit"
    );
    drop(first);
    assert!(
        admit(&ledger).is_ok(),
        "dropped unsettled: all of it is back"
    );
}

#[test]
fn settling_puts_the_usage_in_place_of_the_reservation() {
    let ledger = ledger(300);
    let hold = admit(&ledger).unwrap();
    let mut entry = used(150);
    hold.settle(&mut entry);
    assert_eq!(ledger.totals(TOKEN).unwrap().total_tokens, 150);
    let next = admit(&ledger).unwrap();
    assert_eq!(
        next.reservation(KEY).map(|r| r.tokens),
        Some(150),
        "150 spent: the next call is capped to what is left, not to its 200"
    );
}

#[test]
fn a_hold_keeps_its_concurrency_slot_until_it_ends() {
    let ledger = ledger_with(1_000_000, Some(2));
    let mut first = admit(&ledger).unwrap();
    first.occupy(
        LedgerState::take_slot(&ledger, KEY)
            .unwrap()
            .into_iter()
            .collect(),
    );
    let mut second = admit(&ledger).unwrap();
    second.occupy(
        LedgerState::take_slot(&ledger, KEY)
            .unwrap()
            .into_iter()
            .collect(),
    );
    assert_eq!(ledger.in_flight(KEY), 2);
    assert!(matches!(
        LedgerState::take_slot(&ledger, KEY),
        Err(ApiError::ConcurrencyLimit(_))
    ));
    // Settled (a call that finished) or dropped (a stream cut, a panic): the slot is back.
    first.settle(&mut used(10));
    assert_eq!(ledger.in_flight(KEY), 1);
    drop(second);
    assert_eq!(ledger.in_flight(KEY), 0);
    let third = LedgerState::take_slot(&ledger, KEY).unwrap();
    assert!(third.is_some());
    let uncapped = ledger_with(1_000, None);
    assert!(
        LedgerState::take_slot(&uncapped, KEY).unwrap().is_none(),
        "no max_parallel: no slot counted"
    );
}

#[test]
fn a_team_budget_binds_its_tokens_and_settles_with_them() {
    // The token has a budget of 400; its team 300: the team's is the one that binds.
    let ledger = ledger(400);
    ledger.upsert_team(&entity::team::Model {
        id: 4,
        name: "ml".into(),
        max_tokens: Some(300),
        max_amount_nano: None,
        budget_period: "monthly".into(),
        rpm: None,
        tpm: None,
        max_parallel: Some(1),
        allowed_models: None,
        enabled: true,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        amount_spent_nano: 0,
        request_count: 0,
        period_start: 0,
        period_tokens: 0,
        period_nano: 0,
        created_at: 0,
        updated_at: 1,
        deleted_at: None,
    });
    let admit_in_team = |ledger: &Arc<LedgerState>| -> Result<Hold, ApiError> {
        let admission = ledger.admit(AdmitRequest {
            token_id: TOKEN,
            team_id: Some(4),
            candidates: vec![("p", "m")],
            prompt_tokens: 100,
            client_cap: Some(100),
            choices: 1,
            generates: true,
            free: false,
            unpriced_tier: None,
            cache: CacheAsk::default(),
            web_searches: 0,
        })?;
        let mut hold = Hold::new(ledger.clone(), None);
        hold.reserve([admission.reservation, admission.team_reservation]);
        Ok(hold)
    };
    let first = admit_in_team(&ledger).unwrap();
    assert!(first
        .reservation(AccountKey::Team(4))
        .is_some_and(|r| r.tokens == 200));
    match admit_in_team(&ledger) {
        Err(ApiError::InsufficientQuota { message: m, .. }) => {
            assert!(m.contains("team budget"), "{m}")
        }
        other => panic!("the team's budget did not bind: {:?}", other.err()),
    }
    let mut entry = used(150);
    entry.team_id = Some(4);
    first.settle(&mut entry);
    let team = ledger.team_state(4).unwrap();
    assert_eq!((team.totals.total_tokens, team.period.tokens), (150, 150));
    assert!(
        entry.team_period > 0,
        "a monthly period starts after the epoch"
    );
    assert!(team.resets_at.is_some());
    // The call the team refused gave the token's reservation back: 250 of the token's
    // 400 are left, enough for a call of 200 outside the team.
    assert!(
        admit(&ledger).is_ok(),
        "a refusal by the team leaked the token's reservation"
    );
    // The team's slot: one call at a time across its tokens.
    let slot = LedgerState::take_slot(&ledger, AccountKey::Team(4)).unwrap();
    assert!(slot.is_some());
    assert!(matches!(
        LedgerState::take_slot(&ledger, AccountKey::Team(4)),
        Err(ApiError::ConcurrencyLimit(m)) if m.contains("team")
    ));
}
