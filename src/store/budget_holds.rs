//! Budget holds shared by the instances of a cluster (Postgres only).
//!
//! Admission on any instance reserves a call's worst case in the token's row with one
//! conditional `UPDATE` — it succeeds only while `spent + held + this call` fits every
//! budget — and records the hold with an expiry. A hold ends in the transaction that
//! writes the call's usage (so `spent + held` never dips), or expires (an instance that
//! died holding it). Tokens without a budget never come here.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::db_clock_sql;

/// The token's cluster-wide `spent + held`, in tokens and nano-USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Global {
    pub tokens: i64,
    pub nano: i64,
}

/// Places a hold; `Ok((Some(id), global))` when it fits, `Ok((None, global))` when it
/// does not (nothing held).
pub async fn hold(
    db: &DatabaseConnection,
    token_id: i32,
    tokens: i64,
    nano: i64,
    ttl_ms: i64,
) -> Result<(Option<i64>, Global), DbErr> {
    let now = db_clock_sql(DbBackend::Postgres);
    let sql = format!(
        "WITH u AS (UPDATE tokens SET held_tokens = held_tokens + $2, held_nano = held_nano + $3 \
         WHERE id = $1 \
           AND (max_tokens IS NULL OR total_tokens + held_tokens + $2 <= max_tokens) \
           AND (max_amount_nano IS NULL OR amount_spent_nano + held_nano + $3 <= max_amount_nano) \
         RETURNING id, total_tokens + held_tokens AS g_tokens, amount_spent_nano + held_nano AS g_nano), \
         h AS (INSERT INTO budget_holds (token_id, tokens, nano, expires_at) \
               SELECT id, $2, $3, {now} + $4 FROM u RETURNING id) \
         SELECT h.id AS hold_id, u.g_tokens, u.g_nano FROM h, u"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                Value::from(token_id),
                Value::from(tokens),
                Value::from(nano),
                Value::from(ttl_ms),
            ],
        ))
        .await?;
    if let Some(row) = row {
        let global = Global {
            tokens: row.try_get("", "g_tokens")?,
            nano: row.try_get("", "g_nano")?,
        };
        return Ok((Some(row.try_get("", "hold_id")?), global));
    }
    Ok((None, global(db, token_id).await?))
}

/// The token's cluster-wide `spent + held`.
pub async fn global(db: &DatabaseConnection, token_id: i32) -> Result<Global, DbErr> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT total_tokens + held_tokens AS g_tokens, amount_spent_nano + held_nano AS g_nano \
             FROM tokens WHERE id = $1",
            [Value::from(token_id)],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("token {token_id}")))?;
    Ok(Global {
        tokens: row.try_get("", "g_tokens")?,
        nano: row.try_get("", "g_nano")?,
    })
}

/// Shrinks a settled call's hold to what it used (it ends when that usage is written). A
/// hold already ended by the writer is left alone.
pub async fn shrink(db: &DatabaseConnection, id: i64, tokens: i64, nano: i64) -> Result<(), DbErr> {
    let sql = "WITH o AS (SELECT id, tokens AS old_t, nano AS old_n FROM budget_holds WHERE id = $1 FOR UPDATE), \
         b AS (UPDATE budget_holds h SET tokens = LEAST(o.old_t, $2), nano = LEAST(o.old_n, $3) FROM o \
               WHERE h.id = o.id RETURNING h.token_id, o.old_t - h.tokens AS dt, o.old_n - h.nano AS dn) \
         UPDATE tokens SET held_tokens = GREATEST(held_tokens - b.dt, 0), held_nano = GREATEST(held_nano - b.dn, 0) \
         FROM b WHERE tokens.id = b.token_id";
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            Value::from(id),
            Value::from(tokens.max(0)),
            Value::from(nano.max(0)),
        ],
    ))
    .await?;
    Ok(())
}

/// Ends holds (`condition` on `budget_holds`) and takes them off their tokens' `held_*`.
async fn end_where(conn: &impl ConnectionTrait, condition: &str) -> Result<u64, DbErr> {
    let sql = format!(
        "WITH d AS (DELETE FROM budget_holds WHERE {condition} RETURNING token_id, tokens, nano), \
         s AS (SELECT token_id, SUM(tokens) AS t, SUM(nano) AS n FROM d GROUP BY token_id) \
         UPDATE tokens SET held_tokens = GREATEST(held_tokens - s.t, 0), \
                           held_nano = GREATEST(held_nano - s.n, 0) \
         FROM s WHERE tokens.id = s.token_id"
    );
    Ok(conn
        .execute(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .rows_affected())
}

/// Ends the holds of settled calls (inside the batch that writes their usage).
pub async fn end(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() || conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    end_where(conn, &format!("id IN ({})", list.join(", "))).await?;
    Ok(())
}

/// Ends holds whose instance never settled them (it died): they stop counting.
pub async fn expire(db: &DatabaseConnection) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    end_where(
        db,
        &format!("expires_at < {}", db_clock_sql(DbBackend::Postgres)),
    )
    .await
}
