//! Budget leases shared by the instances of a cluster (Postgres only).
//!
//! An instance serving a token with a budget holds a slice of it — a lease — in the token's
//! row (`held_tokens`, `held_nano`), taken with one conditional `UPDATE` that succeeds only
//! while `spent + held + slice` fits every budget, and recorded in `budget_holds` with an
//! expiry. Calls then reserve from the lease in memory; the batch that writes a call's
//! usage moves that usage from the lease to `spent` in the same transaction (so
//! `spent + held` never dips below the truth). Unused leases are given back after a quiet
//! sync tick and at shutdown; the lease of an instance that died stops counting when it
//! expires. Tokens without a budget never come here. Teams' budgets are leased the same
//! way from their own rows and lease table ([`Tables`]).
//!
//! A budget counts its current period: `spent` is `period_tokens` / `period_nano` while
//! the row's `period_start` is the period the caller is in (or later: a clock behind),
//! and nothing when the row was last written in an earlier period.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::account_tables::Tables;
use super::db_clock_sql;

/// The token's cluster-wide `spent + held`, in tokens and nano-USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Global {
    pub tokens: i64,
    pub nano: i64,
}

/// What asking for a lease (or more of one) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Held, in lease `id`; `renewed` is false when a new lease replaced a lost one.
    Granted {
        id: i64,
        renewed: bool,
        global: Global,
    },
    /// The budgets cannot pay for it: nothing held.
    Refused(Global),
}

/// Takes `tokens`/`nano` more of a token's budget: into lease `lease` when it still exists
/// (its expiry pushed to now + `ttl_ms`), else into a new lease.
/// `spent` in the current period (`$p`: its start), tokens and nano-USD.
fn spent(p: &str) -> (String, String) {
    (
        format!("(CASE WHEN period_start >= {p} THEN period_tokens ELSE 0 END)"),
        format!("(CASE WHEN period_start >= {p} THEN period_nano ELSE 0 END)"),
    )
}

/// Takes `tokens`/`nano` more of an account's budget in the period starting `period`:
/// into lease `lease` when it still exists (its expiry pushed to now + `ttl_ms`), else
/// into a new lease.
#[allow(clippy::too_many_arguments)]
pub async fn grant(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    period: i64,
    lease: Option<i64>,
    tokens: i64,
    nano: i64,
    ttl_ms: i64,
) -> Result<Grant, DbErr> {
    let (owner, holds, fk) = (t.owner, t.holds, t.fk);
    let now = db_clock_sql(DbBackend::Postgres);
    let (st, sn) = spent("$6");
    let fits = format!(
        "(max_tokens IS NULL OR {st} + held_tokens + $2 <= max_tokens) \
         AND (max_amount_nano IS NULL OR {sn} + held_nano + $3 <= max_amount_nano)"
    );
    let add =
        format!("UPDATE {owner} SET held_tokens = held_tokens + $2, held_nano = held_nano + $3");
    let global = format!("{st} + held_tokens AS g_tokens, {sn} + held_nano AS g_nano");
    if let Some(lease) = lease {
        // The lease row is locked first (as the batch writer and the expiry sweep do), so
        // it cannot vanish between the check and the update.
        let sql = format!(
            "WITH l AS (SELECT id FROM {holds} WHERE id = $5 AND {fk} = $1 FOR UPDATE), \
             u AS ({add} WHERE id = $1 AND EXISTS (SELECT 1 FROM l) AND {fits} \
                   RETURNING id, {global}), \
             h AS (UPDATE {holds} SET tokens = tokens + $2, nano = nano + $3, \
                   expires_at = {now} + $4 FROM u WHERE {holds}.id = $5 RETURNING {holds}.id) \
             SELECT (SELECT COUNT(*) FROM l) AS lease_found, h.id AS hold_id, u.g_tokens, u.g_nano \
             FROM (SELECT 1) AS one LEFT JOIN u ON true LEFT JOIN h ON true"
        );
        let row = db
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [
                    Value::from(owner_id),
                    Value::from(tokens),
                    Value::from(nano),
                    Value::from(ttl_ms),
                    Value::from(lease),
                    Value::from(period),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("the lease query returned no row".into()))?;
        let found: i64 = row.try_get("", "lease_found")?;
        if found > 0 {
            if let Some(id) = row.try_get::<Option<i64>>("", "hold_id")? {
                let global = Global {
                    tokens: row.try_get("", "g_tokens")?,
                    nano: row.try_get("", "g_nano")?,
                };
                return Ok(Grant::Granted {
                    id,
                    renewed: true,
                    global,
                });
            }
            return Ok(Grant::Refused(self::global(db, t, owner_id, period).await?));
        }
        // The lease expired (this instance could not renew it): start a new one.
    }
    let sql = format!(
        "WITH u AS ({add} WHERE id = $1 AND {fits} RETURNING id, {global}), \
         h AS (INSERT INTO {holds} ({fk}, tokens, nano, expires_at) \
               SELECT id, $2, $3, {now} + $4 FROM u RETURNING id) \
         SELECT h.id AS hold_id, u.g_tokens, u.g_nano FROM h, u"
    );
    // Without a lease id among the parameters, the period is the fifth.
    let sql = sql.replace("$6", "$5");
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                Value::from(owner_id),
                Value::from(tokens),
                Value::from(nano),
                Value::from(ttl_ms),
                Value::from(period),
            ],
        ))
        .await?;
    match row {
        Some(row) => Ok(Grant::Granted {
            id: row.try_get("", "hold_id")?,
            renewed: false,
            global: Global {
                tokens: row.try_get("", "g_tokens")?,
                nano: row.try_get("", "g_nano")?,
            },
        }),
        None => Ok(Grant::Refused(self::global(db, t, owner_id, period).await?)),
    }
}

/// An account's cluster-wide `spent + held` in the period starting `period`.
pub async fn global(
    db: &DatabaseConnection,
    t: &Tables,
    owner_id: i32,
    period: i64,
) -> Result<Global, DbErr> {
    let (st, sn) = spent("$2");
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT {st} + held_tokens AS g_tokens, {sn} + held_nano AS g_nano \
                 FROM {} WHERE id = $1",
                t.owner
            ),
            [Value::from(owner_id), Value::from(period)],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("{} {owner_id}", t.owner)))?;
    Ok(Global {
        tokens: row.try_get("", "g_tokens")?,
        nano: row.try_get("", "g_nano")?,
    })
}

/// Takes `(lease, tokens, nano)` amounts off leases and their tokens' `held_*` (never below
/// zero): usage written in the same transaction (`consume`), or unused lease given back.
async fn take_off(
    conn: &impl ConnectionTrait,
    t: &Tables,
    mut amounts: Vec<(i64, i64, i64)>,
) -> Result<(), DbErr> {
    let (owner, holds, fk) = (t.owner, t.holds, t.fk);
    if amounts.is_empty() {
        return Ok(());
    }
    // Rows are locked in id order, so two writers never wait on each other crosswise.
    amounts.sort_unstable();
    let mut values = Vec::with_capacity(amounts.len() * 3);
    let rows: Vec<String> = amounts
        .iter()
        .enumerate()
        .map(|(i, (id, t, n))| {
            values.extend([
                Value::from(*id),
                Value::from((*t).max(0)),
                Value::from((*n).max(0)),
            ]);
            format!(
                "(${}::BIGINT, ${}::BIGINT, ${}::BIGINT)",
                3 * i + 1,
                3 * i + 2,
                3 * i + 3
            )
        })
        .collect();
    let sql = format!(
        "WITH a(id, t, n) AS (VALUES {}), \
         o AS (SELECT h.id, h.tokens AS old_t, h.nano AS old_n FROM {holds} h \
               JOIN a ON a.id = h.id ORDER BY h.id FOR UPDATE OF h), \
         b AS (UPDATE {holds} h SET tokens = GREATEST(o.old_t - a.t, 0), nano = GREATEST(o.old_n - a.n, 0) \
               FROM o JOIN a ON a.id = o.id WHERE h.id = o.id \
               RETURNING h.{fk} AS owner, o.old_t - h.tokens AS dt, o.old_n - h.nano AS dn), \
         s AS (SELECT owner, SUM(dt) AS t, SUM(dn) AS n FROM b GROUP BY owner) \
         UPDATE {owner} SET held_tokens = GREATEST(held_tokens - s.t, 0), held_nano = GREATEST(held_nano - s.n, 0) \
         FROM s WHERE {owner}.id = s.owner",
        rows.join(", ")
    );
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// Moves written usage out of the leases it was reserved from (inside the batch that adds
/// it to the tokens' spend). `usage` is (lease, tokens, nano) per call.
pub async fn consume(
    conn: &impl ConnectionTrait,
    t: &Tables,
    usage: &[(i64, i64, i64)],
) -> Result<(), DbErr> {
    if usage.is_empty() || conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut by_lease: HashMap<i64, (i64, i64)> = HashMap::new();
    for (id, t, n) in usage {
        let e = by_lease.entry(*id).or_default();
        e.0 = e.0.saturating_add((*t).max(0));
        e.1 = e.1.saturating_add((*n).max(0));
    }
    let amounts = by_lease
        .into_iter()
        .map(|(id, (t, n))| (id, t, n))
        .collect();
    take_off(conn, t, amounts).await
}

/// Gives unused lease back: (lease, tokens, nano).
pub async fn give_back(
    db: &DatabaseConnection,
    t: &Tables,
    amounts: &[(i64, i64, i64)],
) -> Result<(), DbErr> {
    take_off(db, t, amounts.to_vec()).await
}

/// Pushes the expiry of leases still in use to now + `ttl_ms`.
pub async fn renew(
    db: &DatabaseConnection,
    t: &Tables,
    ids: &[i64],
    ttl_ms: i64,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "UPDATE {} SET expires_at = {} + $1 WHERE id IN ({})",
        t.holds,
        db_clock_sql(DbBackend::Postgres),
        list.join(", ")
    );
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [Value::from(ttl_ms)],
    ))
    .await?;
    Ok(())
}

/// Ends leases that were not renewed (their instance died, or gave them back and left the
/// empty row): their rows go, and what they still held stops counting. Returns how many
/// tokens had something left in an expired lease.
pub async fn expire(db: &DatabaseConnection, t: &Tables) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let (owner, holds, fk) = (t.owner, t.holds, t.fk);
    let sql = format!(
        "WITH d AS (DELETE FROM {holds} WHERE expires_at < {} RETURNING {fk} AS owner, tokens, nano), \
         s AS (SELECT owner, SUM(tokens) AS t, SUM(nano) AS n FROM d GROUP BY owner \
               HAVING SUM(tokens) > 0 OR SUM(nano) > 0) \
         UPDATE {owner} SET held_tokens = GREATEST(held_tokens - s.t, 0), \
                           held_nano = GREATEST(held_nano - s.n, 0) \
         FROM s WHERE {owner}.id = s.owner",
        db_clock_sql(DbBackend::Postgres)
    );
    Ok(db
        .execute(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .rows_affected())
}
