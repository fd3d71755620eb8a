//! Per-minute rollups of the request log, maintained in the same transaction as the rows
//! they sum, so the metrics routes read a few thousand rollup rows instead of the log.
//!
//! `request_rollups`: one row per (minute, provider, model) with counts and sums.
//! `token_rollups`: one row per (hour, token) — hours, because tokens can be many.
//! `latency_rollups`: one row per (minute, latency slot) — a log-scale histogram, four
//! slots per doubling (each slot ≤ 19 % wide), from which p95 is read.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use super::logs::LogEntry;

pub const BUCKET_MS: i64 = 60_000;
pub const TOKEN_BUCKET_MS: i64 = 3_600_000;
/// The last slot holds everything slower (2^(127/4) ms is years).
const MAX_SLOT: i32 = 127;

/// The histogram slot of a latency: `floor(4 × log2(ms + 1))`.
pub fn slot(latency_ms: i64) -> i32 {
    let ms = latency_ms.max(0) as f64;
    ((4.0 * (ms + 1.0).log2()).floor() as i32).min(MAX_SLOT)
}

/// The largest latency a slot holds (its upper bound), in milliseconds.
pub fn slot_upper_ms(slot: i32) -> f64 {
    (2f64.powf((slot + 1) as f64 / 4.0) - 1.0).max(0.0)
}

/// The minute a row belongs to.
pub fn bucket(created_at_ms: i64) -> i64 {
    created_at_ms
        .div_euclid(BUCKET_MS)
        .saturating_mul(BUCKET_MS)
}

/// The hour a row's token rollup belongs to.
pub fn token_bucket(created_at_ms: i64) -> i64 {
    created_at_ms
        .div_euclid(TOKEN_BUCKET_MS)
        .saturating_mul(TOKEN_BUCKET_MS)
}

/// The model a row is counted under: as routed, else as asked ("" if neither).
pub fn model_label(row: &LogEntry) -> &str {
    row.model
        .as_deref()
        .or(row.requested_model.as_deref())
        .unwrap_or("")
}

#[derive(Default)]
struct Sums {
    requests: i64,
    errors: i64,
    latency: i64,
    first_byte: i64,
    first_byte_n: i64,
    prompt: i64,
    completion: i64,
    total: i64,
    cached: i64,
    amount: i64,
}

impl Sums {
    fn values(&self) -> [i64; 10] {
        [
            self.requests,
            self.errors,
            self.latency,
            self.first_byte,
            self.first_byte_n,
            self.prompt,
            self.completion,
            self.total,
            self.cached,
            self.amount,
        ]
    }
}

const SUM_COLUMNS: [&str; 10] = [
    "requests",
    "errors",
    "latency_sum_ms",
    "first_byte_sum_ms",
    "first_byte_count",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "amount_nano",
];

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// Adds a batch's rows to the rollups (inside the batch's transaction).
pub async fn add(conn: &impl ConnectionTrait, rows: &[LogEntry]) -> Result<(), DbErr> {
    let mut sums: BTreeMap<(i64, &str, &str), Sums> = BTreeMap::new();
    let mut slots: BTreeMap<(i64, i32), i64> = BTreeMap::new();
    let mut tokens: BTreeMap<(i64, i32), [i64; 4]> = BTreeMap::new();
    for row in rows {
        let minute = bucket(row.created_at);
        let t = tokens
            .entry((token_bucket(row.created_at), row.token_id.unwrap_or(0)))
            .or_default();
        t[0] += 1;
        t[1] += i64::from(!row.is_success());
        t[2] += row.total_tokens;
        t[3] += row.amount_nano;
        let key = (
            minute,
            row.provider.as_deref().unwrap_or(""),
            model_label(row),
        );
        let s = sums.entry(key).or_default();
        s.requests += 1;
        s.errors += i64::from(!row.is_success());
        s.latency += row.latency_ms;
        if let Some(fb) = row.first_byte_ms {
            s.first_byte += fb;
            s.first_byte_n += 1;
        }
        s.prompt += row.prompt_tokens;
        s.completion += row.completion_tokens;
        s.total += row.total_tokens;
        s.cached += row.cached_tokens;
        s.amount += row.amount_nano;
        *slots.entry((minute, slot(row.latency_ms))).or_default() += 1;
    }
    let backend = conn.get_database_backend();
    let key_cols = "bucket, provider, model";
    let updates: Vec<String> = SUM_COLUMNS
        .iter()
        .map(|c| format!("{c} = request_rollups.{c} + excluded.{c}"))
        .collect();
    let params: Vec<String> = (1..=3 + SUM_COLUMNS.len())
        .map(|n| placeholder(backend, n))
        .collect();
    let sql = format!(
        "INSERT INTO request_rollups ({key_cols}, {}) VALUES ({}) ON CONFLICT ({key_cols}) DO UPDATE SET {}",
        SUM_COLUMNS.join(", "),
        params.join(", "),
        updates.join(", ")
    );
    for ((minute, provider, model), s) in &sums {
        let mut values = vec![
            Value::from(*minute),
            Value::from(*provider),
            Value::from(*model),
        ];
        values.extend(s.values().into_iter().map(Value::from));
        conn.execute(Statement::from_sql_and_values(backend, &sql, values))
            .await?;
    }
    let p: Vec<String> = (1..=6).map(|n| placeholder(backend, n)).collect();
    let sql = format!(
        "INSERT INTO token_rollups (bucket, token_id, requests, errors, total_tokens, amount_nano) \
         VALUES ({}) ON CONFLICT (bucket, token_id) DO UPDATE SET \
         requests = token_rollups.requests + excluded.requests, \
         errors = token_rollups.errors + excluded.errors, \
         total_tokens = token_rollups.total_tokens + excluded.total_tokens, \
         amount_nano = token_rollups.amount_nano + excluded.amount_nano",
        p.join(", ")
    );
    for ((hour, token), [requests, errors, total, amount]) in tokens {
        conn.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [hour, i64::from(token), requests, errors, total, amount].map(Value::from),
        ))
        .await?;
    }
    let sql = format!(
        "INSERT INTO latency_rollups (bucket, slot, count) VALUES ({}, {}, {}) \
         ON CONFLICT (bucket, slot) DO UPDATE SET count = latency_rollups.count + excluded.count",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3)
    );
    for ((minute, slot), count) in slots {
        conn.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [Value::from(minute), Value::from(slot), Value::from(count)],
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_monotone_and_narrow() {
        let mut last = 0;
        for ms in [0, 1, 2, 5, 10, 99, 100, 101, 1000, 60_000, 600_000] {
            let s = slot(ms);
            assert!(s >= last, "{ms}");
            last = s;
            let upper = slot_upper_ms(s);
            assert!(upper >= ms as f64, "{ms} above its slot's bound {upper}");
            // The bound overstates by at most one slot width (19 %) plus rounding.
            assert!(upper <= ms as f64 * 1.19 + 1.0, "{ms}: {upper}");
        }
        assert_eq!(slot(i64::MAX), MAX_SLOT);
        assert_eq!(slot(-5), 0);
    }

    #[test]
    fn buckets_are_minutes() {
        assert_eq!(bucket(125_000), 120_000);
        assert_eq!(bucket(-1), -60_000);
    }
}
