//! One token's account: allowances from token and money budgets, absurd numbers, rpm and
//! tpm windows.

use super::*;
use crate::accounting::period::BudgetPeriod;
use jiff::tz::TimeZone;
use std::time::Duration;

fn usage(total: i64) -> Usage {
    Usage {
        prompt_tokens: total / 2,
        completion_tokens: total - total / 2,
        total_tokens: total,
        ..Usage::default()
    }
}

fn call(prompt: i64, per_choice: i64, n: i64) -> CallEstimate {
    CallEstimate {
        prompt_tokens: prompt,
        choices: n,
        completion_per_choice: per_choice,
        input_nano_per_token: 1000.0,  // $1 per million
        output_nano_per_token: 2000.0, // $2 per million
        fixed_nano: 0.0,
    }
}

fn tokens_limit(max: i64) -> Limits {
    Limits {
        max_tokens: Some(max),
        ..Limits::default()
    }
}

#[test]
fn the_allowance_is_what_the_token_budget_can_pay_for() {
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    let now = Instant::now();
    let (r, allowance) = a
        .admit(
            AccountKey::Token(1),
            &tokens_limit(1000),
            &call(100, 16_384, 1),
            now,
        )
        .unwrap();
    assert_eq!(allowance, Some(900));
    assert_eq!(r.tokens, 1000, "prompt + the capped completion");
    assert!(matches!(
        a.admit(
            AccountKey::Token(1),
            &tokens_limit(1000),
            &call(1, 10, 1),
            now
        ),
        Err(ApiError::InsufficientQuota { .. })
    ));
    a.release(&r);
    // n choices share the allowance.
    let (_, allowance) = a
        .admit(
            AccountKey::Token(1),
            &tokens_limit(1000),
            &call(100, 16_384, 3),
            now,
        )
        .unwrap();
    assert_eq!(allowance, Some(300));
}

#[test]
fn the_allowance_is_what_the_money_budget_can_pay_for() {
    let limits = Limits {
        max_amount: Some(Money::from_nanos(1_000_000)), // $0.001
        ..Limits::default()
    };
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    let now = Instant::now();
    // 100 prompt tokens cost 100k nano; 900k nano buy 450 output tokens.
    let (r, allowance) = a
        .admit(AccountKey::Token(1), &limits, &call(100, 16_384, 1), now)
        .unwrap();
    assert_eq!(allowance, Some(450));
    assert_eq!(r.cost.nanos(), 1_000_000);
    assert!(a
        .admit(AccountKey::Token(1), &limits, &call(1, 1, 1), now)
        .is_err());
    a.release(&r);
    a.record(&usage(10), Money::from_nanos(999_999), now);
    assert!(
        a.admit(AccountKey::Token(1), &limits, &call(0, 1, 1), now)
            .is_err(),
        "1 nano left cannot pay for a token"
    );
}

#[test]
fn ample_budgets_reserve_the_natural_completion_only() {
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    let now = Instant::now();
    let (r, allowance) = a
        .admit(
            AccountKey::Token(1),
            &tokens_limit(1_000_000),
            &call(100, 4096, 2),
            now,
        )
        .unwrap();
    assert_eq!(allowance, Some(499_950));
    assert_eq!(r.tokens, 100 + 2 * 4096);
    let (r, allowance) = a
        .admit(
            AccountKey::Token(1),
            &Limits::default(),
            &call(10, 50, 1),
            now,
        )
        .unwrap();
    assert_eq!((allowance, r.tokens), (None, 60), "no budget, no allowance");
}

#[test]
fn absurd_numbers_saturate() {
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals {
            total_tokens: i64::MAX - 5,
            amount: Money::from_nanos(i64::MAX - 5),
            ..Totals::default()
        },
        PeriodSpend {
            start: 0,
            tokens: i64::MAX - 5,
            nano: i64::MAX - 5,
        },
        BudgetPeriod::None,
    );
    let now = Instant::now();
    let (r, _) = a
        .admit(
            AccountKey::Token(1),
            &Limits::default(),
            &call(i64::MAX, i64::MAX, 128),
            now,
        )
        .unwrap();
    assert_eq!(r.tokens, i64::MAX);
    a.record(&usage(i64::MAX), Money::from_nanos(i64::MAX), now);
    assert_eq!(a.totals.total_tokens, i64::MAX);
    assert!(a
        .admit(
            AccountKey::Token(1),
            &tokens_limit(i64::MAX),
            &call(1, 1, 1),
            now
        )
        .is_err());
    a.release(&r);
    a.release(&r);
    assert_eq!(a.reserved_tokens, 0);
}

#[test]
fn embeddings_need_only_their_prompt() {
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    let now = Instant::now();
    let (r, _) = a
        .admit(
            AccountKey::Token(1),
            &tokens_limit(100),
            &call(100, 0, 1),
            now,
        )
        .unwrap();
    assert_eq!(r.tokens, 100);
    assert!(a
        .admit(
            AccountKey::Token(1),
            &tokens_limit(100),
            &call(1, 0, 1),
            now
        )
        .is_err());
}

#[test]
fn rpm_window_slides() {
    let limits = Limits {
        rpm: Some(5),
        ..Limits::default()
    };
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    let start = Instant::now();
    for _ in 0..5 {
        a.admit(AccountKey::Token(1), &limits, &call(0, 0, 1), start)
            .unwrap();
    }
    assert!(matches!(
        a.admit(
            AccountKey::Token(1),
            &limits,
            &call(0, 0, 1),
            start + Duration::from_secs(59)
        ),
        Err(ApiError::RateLimited { .. })
    ));
    // A request counts for 60 to 61 seconds (per-second counts), never less.
    assert!(a
        .admit(
            AccountKey::Token(1),
            &limits,
            &call(0, 0, 1),
            start + Duration::from_millis(60_500)
        )
        .is_err());
    assert!(a
        .admit(
            AccountKey::Token(1),
            &limits,
            &call(0, 0, 1),
            start + Duration::from_secs(61)
        )
        .is_ok());
}

#[test]
fn tpm_counts_settled_and_reserved_tokens() {
    let limits = Limits {
        tpm: Some(100),
        ..Limits::default()
    };
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    let start = Instant::now();
    let (r, _) = a
        .admit(AccountKey::Token(1), &limits, &call(60, 0, 1), start)
        .unwrap();
    a.admit(AccountKey::Token(1), &limits, &call(60, 0, 1), start)
        .unwrap();
    assert!(a
        .admit(AccountKey::Token(1), &limits, &call(1, 0, 1), start)
        .is_err());
    a.release(&r);
    a.record(&usage(20), Money::ZERO, start);
    assert!(
        a.admit(AccountKey::Token(1), &limits, &call(1, 0, 1), start)
            .is_ok(),
        "80 of 100 in use"
    );
    a.record(&usage(100), Money::ZERO, start);
    assert!(a
        .admit(AccountKey::Token(1), &limits, &call(1, 0, 1), start)
        .is_err());
    // A minute later the settled tokens have left the window.
    assert!(a
        .admit(
            AccountKey::Token(1),
            &limits,
            &call(1, 0, 1),
            start + Duration::from_secs(61)
        )
        .is_ok());
}

#[test]
fn a_new_period_gives_the_whole_allowance_back_and_keeps_lifetime_usage() {
    let tz = TimeZone::UTC;
    let hour = 3_600_000;
    let limits = Limits {
        max_tokens: Some(1_000),
        period: BudgetPeriod::Fixed(hour),
        created_at: 0,
        ..Limits::default()
    };
    let mut a = Account::new(
        AccountKey::Team(3),
        Totals::default(),
        PeriodSpend::default(),
        limits.period,
    );
    let now = Instant::now();
    a.roll(&limits, 10, &tz);
    assert_eq!(a.resets_at(), Some(hour));
    let (r, _) = a
        .admit(AccountKey::Team(3), &limits, &call(100, 800, 1), now)
        .unwrap();
    a.release(&r);
    a.record(&usage(900), Money::ZERO, now);
    let refused = a.admit(AccountKey::Team(3), &limits, &call(100, 10, 1), now);
    match refused {
        Err(ApiError::InsufficientQuota {
            message: m,
            retry_after_secs,
        }) => {
            assert!(m.contains("team budget"), "{m}");
            assert!(m.contains("resets at 1970-01-01T01:00:00Z"), "{m}");
            assert!(retry_after_secs >= 1, "a refusal says when to retry");
        }
        other => panic!("admitted past the period's budget: {other:?}"),
    }
    // The next hour: nothing spent in it, the lifetime counters keep the 900.
    a.roll(&limits, hour + 5, &tz);
    assert_eq!(
        a.period,
        PeriodSpend {
            start: hour,
            tokens: 0,
            nano: 0
        }
    );
    assert_eq!(a.totals.total_tokens, 900);
    assert!(a
        .admit(AccountKey::Team(3), &limits, &call(100, 800, 1), now)
        .is_ok());
    // A clock that went back does not reopen the old period.
    a.roll(&limits, hour - 5, &tz);
    assert_eq!(a.period.start, hour);
}

#[test]
fn a_changed_period_starts_afresh_and_a_lifetime_one_counts_the_whole_life() {
    let tz = TimeZone::UTC;
    let mut limits = Limits {
        max_tokens: Some(1_000),
        ..Limits::default()
    };
    let mut a = Account::new(
        AccountKey::Token(1),
        Totals::default(),
        PeriodSpend::default(),
        BudgetPeriod::None,
    );
    a.roll(&limits, 5, &tz);
    a.record(&usage(700), Money::ZERO, Instant::now());
    assert_eq!(a.period.tokens, 700);
    limits.period = BudgetPeriod::Daily;
    a.roll(&limits, 86_400_000 * 3 + 5, &tz);
    assert_eq!(
        a.period,
        PeriodSpend {
            start: 86_400_000 * 3,
            tokens: 0,
            nano: 0
        }
    );
    limits.period = BudgetPeriod::None;
    a.roll(&limits, 86_400_000 * 3 + 6, &tz);
    assert_eq!(
        a.period.tokens, 700,
        "back to a lifetime budget: the whole life counts"
    );
    assert_eq!(a.resets_at(), None);
}
