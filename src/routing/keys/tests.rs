//! Key choice, cool-downs, breaker and recovery probes.
use super::*;

fn record(id: i32) -> KeyRecord {
    KeyRecord {
        id,
        provider_id: 1,
        secret: Arc::from(format!("sk-{id}")),
        masked_key: "****".into(),
        description: None,
        weight: 1,
        enabled: true,
        created_at: 0,
    }
}

fn set(previous: Option<&KeySet>) -> KeySet {
    KeySet::new(
        "p".into(),
        Strategy::RoundRobin,
        KeyPolicy {
            cooldown: Duration::from_secs(30),
            failure_threshold: 3,
            quota_cooldown: Duration::from_secs(3600),
        },
        vec![record(1), record(2)],
        previous,
    )
}

fn cooling(keys: &KeySet, id: i32) -> u64 {
    let v = keys.statuses().into_iter().find(|v| v.id == id).unwrap();
    (v.cooldown_remaining_ms as u64).div_ceil(1000)
}

#[test]
fn round_robin_exclusion_and_cooldown() {
    let keys = set(None);
    let picks: Vec<i32> = (0..4).map(|_| keys.pick(&[]).unwrap().id).collect();
    assert_eq!(picks, vec![1, 2, 1, 2]);
    assert_eq!(keys.pick(&[1]).unwrap().id, 2);
    assert!(keys.pick(&[1, 2]).is_none());
    keys.report(1, KeyOutcome::RateLimited(None), Some("429".into()));
    assert!((0..4).all(|_| keys.pick(&[]).unwrap().id == 2));
    keys.report(2, KeyOutcome::Failed(None), None);
    assert_eq!(keys.pick(&[]).unwrap().id, 2, "one 5xx does not cool down");
    let views = keys.statuses();
    assert_eq!((views[0].cooldown_remaining_ms as u64).div_ceil(1000), 30);
    assert_eq!(views[0].last_error.as_deref(), Some("429"));
    assert_eq!(views[1].failures, 1);
    // A rebuilt set keeps the health of the keys it still has.
    let next = set(Some(&keys));
    assert!(next.statuses()[0].cooldown_remaining_ms > 0);
    assert_eq!(next.statuses()[1].consecutive_failures, 1);
}

#[test]
fn breaker_opens_after_consecutive_failures_and_probes_once() {
    let keys = set(None);
    for _ in 0..2 {
        keys.report(1, KeyOutcome::Failed(None), None);
    }
    keys.report(1, KeyOutcome::Ok, None);
    keys.report(1, KeyOutcome::Failed(None), None);
    assert_eq!(cooling(&keys, 1), 0, "a success resets the count");
    for _ in 0..2 {
        keys.report(1, KeyOutcome::Failed(None), None);
    }
    assert_eq!(
        cooling(&keys, 1),
        30,
        "third failure in a row opens the breaker"
    );
    // Cool-down over: half-open, one probe at a time.
    keys.keys[0].cooldown_until_ms.store(0, Ordering::Relaxed);
    assert_eq!(keys.pick(&[2]).unwrap().id, 1);
    assert!(keys.pick(&[2]).is_none(), "the probe is taken");
    keys.report(1, KeyOutcome::Failed(None), None);
    assert_eq!(
        cooling(&keys, 1),
        60,
        "a failed probe doubles the cool-down"
    );
    keys.keys[0].cooldown_until_ms.store(0, Ordering::Relaxed);
    assert_eq!(keys.pick(&[2]).unwrap().id, 1);
    keys.report(1, KeyOutcome::Ok, None);
    assert!(
        keys.pick(&[2]).is_some() && keys.pick(&[2]).is_some(),
        "closed again"
    );
}

#[test]
fn retry_after_quota_and_request_errors() {
    let keys = set(None);
    keys.report(
        1,
        KeyOutcome::RateLimited(Some(Duration::from_secs(7))),
        None,
    );
    assert_eq!(cooling(&keys, 1), 7);
    keys.report(2, KeyOutcome::OutOfQuota, None);
    assert_eq!(cooling(&keys, 2), 3600);
    let keys = set(None);
    for _ in 0..10 {
        keys.report(1, KeyOutcome::RequestError, None);
    }
    assert_eq!(cooling(&keys, 1), 0);
    keys.report(1, KeyOutcome::Failed(Some(Duration::from_secs(12))), None);
    assert_eq!(
        cooling(&keys, 1),
        12,
        "a 503 with Retry-After cools at once"
    );
}

#[test]
fn a_cooldown_ended_by_a_probe_here_is_not_adopted_again() {
    let keys = set(None);
    // Another instance cooled key 1; this one adopts it.
    let until = now_ms() + 30_000;
    assert!(keys.adopt_cooldown(1, until));
    assert!(cooling(&keys, 1) > 0);
    // A recovery probe here gets through.
    let probe = keys
        .claim_recovery_probe(&[])
        .expect("a probe of the cooling key");
    assert_eq!(probe.id, 1);
    keys.report(1, KeyOutcome::Ok, None);
    assert_eq!(cooling(&keys, 1), 0);
    // The database still reports the same cool-down (a few ms off) until the others hear.
    keys.adopt_cooldown(1, until + 3);
    assert_eq!(cooling(&keys, 1), 0, "the ended cool-down stays ended");
    // A new cool-down decided later elsewhere is adopted.
    keys.adopt_cooldown(1, until + 20_000);
    assert!(cooling(&keys, 1) > 0);
}
