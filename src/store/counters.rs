//! The usage counters of tokens and teams, written in the transaction that writes the log
//! rows they add up to: lifetime counters, and the current period's. A row of a later
//! period than the one stored starts the count afresh; usage of an earlier period (a call
//! settled before the boundary, written after; an instance whose clock is behind) counts
//! in the stored one, so a period's count never misses usage and a new period never
//! inherits the old one's.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use super::account_tables::{Tables, TEAMS, TOKENS};
use super::log_entry::LogEntry;

#[derive(Default)]
struct Increment {
    prompt: i64,
    completion: i64,
    total: i64,
    amount: i64,
    requests: i64,
    last_used: i64,
}

/// `?` placeholders in order, numbered for Postgres.
pub(super) fn numbered(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Adds the batch's usage to its tokens' and teams' counters.
pub async fn add(conn: &impl ConnectionTrait, rows: &[LogEntry]) -> Result<(), DbErr> {
    // (owner id, period start) → increment; BTreeMap: rows are updated in id order, so two
    // writers never wait on each other crosswise, and a token's periods in time order.
    let mut tokens: BTreeMap<(i32, i64), Increment> = BTreeMap::new();
    let mut teams: BTreeMap<(i32, i64), Increment> = BTreeMap::new();
    for row in rows {
        let targets = [
            row.token_id.map(|id| (&mut tokens, id, row.token_period)),
            row.team_id.map(|id| (&mut teams, id, row.team_period)),
        ];
        for (map, id, period) in targets.into_iter().flatten() {
            let inc = map.entry((id, period)).or_default();
            inc.prompt += row.prompt_tokens;
            inc.completion += row.completion_tokens;
            inc.total += row.total_tokens;
            inc.amount += row.amount.nanos();
            inc.requests += 1;
            inc.last_used = inc.last_used.max(row.created_at);
        }
    }
    for (t, map) in [(&TOKENS, tokens), (&TEAMS, teams)] {
        for ((id, period), inc) in map {
            update(conn, t, id, period, &inc).await?;
        }
    }
    Ok(())
}

async fn update(
    conn: &impl ConnectionTrait,
    t: &Tables,
    id: i32,
    period: i64,
    inc: &Increment,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let last_used = if t.owner == "tokens" {
        ", last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {} SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, \
         total_tokens = total_tokens + ?, amount_spent_nano = amount_spent_nano + ?, \
         request_count = request_count + ?, \
         period_tokens = CASE WHEN ? > period_start THEN ? ELSE period_tokens + ? END, \
         period_nano = CASE WHEN ? > period_start THEN ? ELSE period_nano + ? END, \
         period_start = CASE WHEN ? > period_start THEN ? ELSE period_start END{last_used} \
         WHERE id = ?",
        t.owner
    );
    let mut values: Vec<Value> = vec![
        inc.prompt.into(),
        inc.completion.into(),
        inc.total.into(),
        inc.amount.into(),
        inc.requests.into(),
        period.into(),
        inc.total.into(),
        inc.total.into(),
        period.into(),
        inc.amount.into(),
        inc.amount.into(),
        period.into(),
        period.into(),
    ];
    if !last_used.is_empty() {
        values.extend([inc.last_used.into(), inc.last_used.into()]);
    }
    values.push(id.into());
    conn.execute(Statement::from_sql_and_values(
        backend,
        numbered(backend, &sql),
        values,
    ))
    .await?;
    Ok(())
}

/// A budget period changed: a fresh period starts now (the next write opens it), except
/// that a lifetime budget (`lifetime`) counts the whole life again.
pub async fn restart_period(
    conn: &impl ConnectionTrait,
    owner: &str,
    id: i32,
    lifetime: bool,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let sql = if lifetime {
        format!(
            "UPDATE {owner} SET period_start = 0, period_tokens = total_tokens, \
             period_nano = amount_spent_nano WHERE id = ?"
        )
    } else {
        format!(
            "UPDATE {owner} SET period_start = 0, period_tokens = 0, period_nano = 0 WHERE id = ?"
        )
    };
    conn.execute(Statement::from_sql_and_values(
        backend,
        numbered(backend, &sql),
        [Value::from(id)],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(
            numbered(DbBackend::Postgres, "a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(
            numbered(DbBackend::Sqlite, "a = ? AND b = ?"),
            "a = ? AND b = ?"
        );
    }
}
