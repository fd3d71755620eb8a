//! The cluster's lease upkeep for tokens and teams alike, as the `UsageLedger` runs it on
//! its tick and at shutdown: holds on slots resized, unused budget leases given back, live
//! ones renewed, dead instances' leases and holds expired, old rate windows pruned.

use sea_orm::{DatabaseConnection, DbErr};

use crate::accounting::ledger::{Renewed, Returned, SlotSize};
use crate::accounting::shared::tables;
use crate::accounting::AccountKey;
use crate::store::account_tables::{TEAMS, TOKENS};
use crate::store::{budget_holds, parallel_holds, rate_windows};

/// The items of one kind of account (tokens, then teams).
fn by_kind<T, U>(
    items: &[T],
    key: impl Fn(&T) -> AccountKey,
    value: impl Fn(&T) -> U,
) -> [(AccountKey, Vec<U>); 2] {
    let pick = |team: bool| {
        items
            .iter()
            .filter(|i| matches!(key(i), AccountKey::Team(_)) == team)
            .map(&value)
            .collect::<Vec<U>>()
    };
    [
        (AccountKey::Token(0), pick(false)),
        (AccountKey::Team(0), pick(true)),
    ]
}

/// Writes the holds on slots at their new sizes (0: the row goes).
pub async fn resize_slots(
    db: &DatabaseConnection,
    sizes: &[SlotSize],
    ttl_ms: i64,
) -> Result<(), DbErr> {
    for (kind, holds) in by_kind(sizes, |s| s.key, |s| (s.hold, s.slots)) {
        if !holds.is_empty() {
            parallel_holds::set(db, tables(kind), &holds, ttl_ms).await?;
        }
    }
    Ok(())
}

/// Gives unused parts of budget leases back.
pub async fn give_back(db: &DatabaseConnection, returned: &[Returned]) -> Result<(), DbErr> {
    for (kind, amounts) in by_kind(returned, |r| r.0, |r| r.1) {
        if !amounts.is_empty() {
            budget_holds::give_back(db, tables(kind), &amounts).await?;
        }
    }
    Ok(())
}

/// Pushes the expiry of budget leases still in use.
pub async fn renew(db: &DatabaseConnection, live: &[Renewed], ttl_ms: i64) -> Result<(), DbErr> {
    for (kind, ids) in by_kind(live, |r| r.0, |r| r.1) {
        budget_holds::renew(db, tables(kind), &ids, ttl_ms).await?;
    }
    Ok(())
}

/// Ends the leases and slot holds no instance renewed; how many accounts lost something.
pub async fn expire(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut lost = 0;
    for t in [&TOKENS, &TEAMS] {
        parallel_holds::expire(db, t).await?;
        lost += budget_holds::expire(db, t).await?;
    }
    Ok(lost)
}

/// Drops rate windows long past.
pub async fn prune_windows(db: &DatabaseConnection) -> Result<(), DbErr> {
    for t in [&TOKENS, &TEAMS] {
        rate_windows::prune(db, t).await?;
    }
    Ok(())
}
