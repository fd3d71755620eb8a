//! Per-minute rollups of the request log, maintained in the same transaction as the rows
//! they sum, so the metrics routes read a few thousand rollup rows instead of the log.
//!
//! `request_rollups` / `request_rollups_hourly`: one row per (minute or hour, provider,
//! model) with counts and sums. `latency_rollups` / `latency_rollups_hourly`: one row per
//! (minute or hour, latency slot) — a log-scale histogram, four slots per doubling (each
//! slot ≤ 19 % wide), from which p95 is read. A window is read as its whole hours plus the
//! minutes at its edges (`spans`), so a month costs about what an hour does.
//! `token_rollups`: one row per (hour, token) — hours, because tokens can be many.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use super::log_entry::LogEntry;

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

/// The `n`th statement placeholder in the backend's style.
pub(super) fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// A rollup resolution: minutes for the edges of a window, hours for its middle, so a
/// summary reads about the same number of rows for an hour as for a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    pub fn bucket(self, at: i64) -> i64 {
        match self {
            Resolution::Minute => bucket(at),
            Resolution::Hour => token_bucket(at),
        }
    }

    pub fn request_table(self) -> &'static str {
        match self {
            Resolution::Minute => "request_rollups",
            Resolution::Hour => "request_rollups_hourly",
        }
    }

    pub fn latency_table(self) -> &'static str {
        match self {
            Resolution::Minute => "latency_rollups",
            Resolution::Hour => "latency_rollups_hourly",
        }
    }
}

/// Adds a batch's rows to the rollups (inside the batch's transaction).
pub async fn add(conn: &impl ConnectionTrait, rows: &[LogEntry]) -> Result<(), DbErr> {
    for resolution in [Resolution::Minute, Resolution::Hour] {
        add_requests(conn, rows, resolution).await?;
    }
    add_tokens(conn, rows).await
}

async fn add_requests(
    conn: &impl ConnectionTrait,
    rows: &[LogEntry],
    resolution: Resolution,
) -> Result<(), DbErr> {
    let mut sums: BTreeMap<(i64, &str, &str), Sums> = BTreeMap::new();
    let mut slots: BTreeMap<(i64, i32), i64> = BTreeMap::new();
    for row in rows {
        let at = resolution.bucket(row.created_at);
        let key = (at, row.provider.as_deref().unwrap_or(""), model_label(row));
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
        s.amount += row.amount.nanos();
        *slots.entry((at, slot(row.latency_ms))).or_default() += 1;
    }
    let backend = conn.get_database_backend();
    let table = resolution.request_table();
    let key_cols = "bucket, provider, model";
    let updates: Vec<String> = SUM_COLUMNS
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    let params: Vec<String> = (1..=3 + SUM_COLUMNS.len())
        .map(|n| placeholder(backend, n))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({key_cols}, {}) VALUES ({}) ON CONFLICT ({key_cols}) DO UPDATE SET {}",
        SUM_COLUMNS.join(", "),
        params.join(", "),
        updates.join(", ")
    );
    for ((at, provider, model), s) in &sums {
        let mut values = vec![
            Value::from(*at),
            Value::from(*provider),
            Value::from(*model),
        ];
        values.extend(s.values().into_iter().map(Value::from));
        conn.execute(Statement::from_sql_and_values(backend, &sql, values))
            .await?;
    }
    let table = resolution.latency_table();
    let sql = format!(
        "INSERT INTO {table} (bucket, slot, count) VALUES ({}, {}, {}) \
         ON CONFLICT (bucket, slot) DO UPDATE SET count = {table}.count + excluded.count",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3)
    );
    for ((at, slot), count) in slots {
        conn.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [Value::from(at), Value::from(slot), Value::from(count)],
        ))
        .await?;
    }
    Ok(())
}

async fn add_tokens(conn: &impl ConnectionTrait, rows: &[LogEntry]) -> Result<(), DbErr> {
    let mut tokens: BTreeMap<(i64, i32), [i64; 4]> = BTreeMap::new();
    for row in rows {
        let t = tokens
            .entry((token_bucket(row.created_at), row.token_id.unwrap_or(0)))
            .or_default();
        t[0] += 1;
        t[1] += i64::from(!row.is_success());
        t[2] += row.total_tokens;
        t[3] += row.amount.nanos();
    }
    let backend = conn.get_database_backend();
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
    Ok(())
}

/// The pieces a window `[since, ∞)` is read from: whole hours from the hourly rollups,
/// the minutes before the first and after the last whole hour from the minute rollups.
/// Each piece is `(resolution, from inclusive, to exclusive)`.
pub fn spans(since_minute: i64, now: i64) -> Vec<(Resolution, i64, i64)> {
    let first_hour = token_bucket(since_minute.saturating_add(TOKEN_BUCKET_MS - 1));
    let this_hour = token_bucket(now);
    if first_hour >= this_hour {
        return vec![(Resolution::Minute, since_minute, i64::MAX)];
    }
    let mut out = Vec::with_capacity(3);
    if since_minute < first_hour {
        out.push((Resolution::Minute, since_minute, first_hour));
    }
    out.push((Resolution::Hour, first_hour, this_hour));
    out.push((Resolution::Minute, this_hour, i64::MAX));
    out
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
    fn windows_split_into_minutes_and_hours() {
        let h = TOKEN_BUCKET_MS;
        // Inside the current hour: minutes only.
        assert_eq!(
            spans(10 * h + 60_000, 10 * h + 1_800_000),
            vec![(Resolution::Minute, 10 * h + 60_000, i64::MAX)]
        );
        // From 07:30 to 10:20: minutes 07:30–08:00, hours 08:00–10:00, minutes from 10:00.
        let since = 7 * h + h / 2;
        assert_eq!(
            spans(since, 10 * h + h / 3),
            vec![
                (Resolution::Minute, since, 8 * h),
                (Resolution::Hour, 8 * h, 10 * h),
                (Resolution::Minute, 10 * h, i64::MAX),
            ]
        );
        // Starting on the hour: no leading minutes.
        assert_eq!(
            spans(8 * h, 10 * h + 5)[0],
            (Resolution::Hour, 8 * h, 10 * h)
        );
    }

    #[test]
    fn buckets_are_minutes() {
        assert_eq!(bucket(125_000), 120_000);
        assert_eq!(bucket(-1), -60_000);
    }
}
