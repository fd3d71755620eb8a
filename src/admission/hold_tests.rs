//! In process: a hold keeps its reservation while it lives, gives it back when dropped
//! unsettled, and puts the call's usage in its place when settled.

use std::sync::Arc;

use entity::token;

use super::Hold;
use crate::accounting::ledger::{AdmitRequest, LedgerConfig, LedgerState};
use crate::error::ApiError;
use crate::pricing::{CacheAsk, PriceBook};
use crate::settings::MissingPrice;
use crate::store::log_entry::LogEntry;

const TOKEN: i32 = 7;

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
    hold.reserve(admission.reservation);
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
    assert!(first.reservation().is_some_and(|r| r.tokens == 200));
    assert!(
        matches!(admit(&ledger), Err(ApiError::InsufficientQuota(_))),
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
        next.reservation().map(|r| r.tokens),
        Some(150),
        "150 spent: the next call is capped to what is left, not to its 200"
    );
}

#[test]
fn a_hold_keeps_its_concurrency_slot_until_it_ends() {
    let ledger = ledger_with(1_000_000, Some(2));
    let mut first = admit(&ledger).unwrap();
    first.occupy(LedgerState::take_slot(&ledger, TOKEN).unwrap());
    let mut second = admit(&ledger).unwrap();
    second.occupy(LedgerState::take_slot(&ledger, TOKEN).unwrap());
    assert_eq!(ledger.in_flight(TOKEN), 2);
    assert!(matches!(
        LedgerState::take_slot(&ledger, TOKEN),
        Err(ApiError::ConcurrencyLimit(_))
    ));
    // Settled (a call that finished) or dropped (a stream cut, a panic): the slot is back.
    first.settle(&mut used(10));
    assert_eq!(ledger.in_flight(TOKEN), 1);
    drop(second);
    assert_eq!(ledger.in_flight(TOKEN), 0);
    let third = LedgerState::take_slot(&ledger, TOKEN).unwrap();
    assert!(third.is_some());
    let uncapped = ledger_with(1_000, None);
    assert!(
        LedgerState::take_slot(&uncapped, TOKEN).unwrap().is_none(),
        "no max_parallel: no slot counted"
    );
}
