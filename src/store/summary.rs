//! The metrics routes' queries: sums over the rollups (never the log rows). A window is
//! read as its whole hours (hourly rollups) plus the minutes at its edges (minute
//! rollups), so the cost hardly grows with the window.

use std::collections::BTreeMap;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, Value,
};

use super::rollups::{bucket, slot_upper_ms, spans, token_bucket};

/// Sums of rollup rows.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals {
    pub requests: i64,
    pub errors: i64,
    pub latency_sum_ms: i64,
    pub first_byte_sum_ms: i64,
    pub first_byte_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub amount_nano: i64,
}

/// One group of a "top" list or of the model distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: String,
    pub requests: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub amount_nano: i64,
}

/// The first minute a window of `window_minutes` ending now covers (the window is rounded
/// out to whole minutes: it may reach up to a minute further back).
pub fn window_start(now_ms: i64, window_minutes: i64) -> i64 {
    bucket(now_ms.saturating_sub(window_minutes.saturating_mul(60_000)))
}

fn sum(col: &str) -> String {
    format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT) AS {col}")
}

fn get(row: &QueryResult, col: &str) -> Result<i64, DbErr> {
    row.try_get::<i64>("", col)
}

/// The rows of `sql`, whose two placeholders are a bucket range (see `range`).
async fn in_range(
    db: &DatabaseConnection,
    sql: String,
    from: i64,
    to: i64,
) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [Value::from(from), Value::from(to)],
    ))
    .await
}

/// `bucket >= from AND bucket < to` in the backend's placeholders.
fn range(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "bucket >= $1 AND bucket < $2",
        _ => "bucket >= ? AND bucket < ?",
    }
}

const SUMS: [&str; 10] = [
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

impl Totals {
    fn read(row: &QueryResult) -> Result<Totals, DbErr> {
        Ok(Totals {
            requests: get(row, "requests")?,
            errors: get(row, "errors")?,
            latency_sum_ms: get(row, "latency_sum_ms")?,
            first_byte_sum_ms: get(row, "first_byte_sum_ms")?,
            first_byte_count: get(row, "first_byte_count")?,
            prompt_tokens: get(row, "prompt_tokens")?,
            completion_tokens: get(row, "completion_tokens")?,
            total_tokens: get(row, "total_tokens")?,
            cached_tokens: get(row, "cached_tokens")?,
            amount_nano: get(row, "amount_nano")?,
        })
    }

    fn add(&mut self, o: &Totals) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.latency_sum_ms += o.latency_sum_ms;
        self.first_byte_sum_ms += o.first_byte_sum_ms;
        self.first_byte_count += o.first_byte_count;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.total_tokens += o.total_tokens;
        self.cached_tokens += o.cached_tokens;
        self.amount_nano += o.amount_nano;
    }
}

/// Sums per (provider, model) over the window starting at `since` (a minute).
pub async fn cells(
    db: &DatabaseConnection,
    since: i64,
    now: i64,
) -> Result<BTreeMap<(String, String), Totals>, DbErr> {
    let backend = db.get_database_backend();
    let select: Vec<String> = SUMS.iter().map(|c| sum(c)).collect();
    let mut out: BTreeMap<(String, String), Totals> = BTreeMap::new();
    for (resolution, from, to) in spans(since, now) {
        let sql = format!(
            "SELECT provider, model, {} FROM {} WHERE {} GROUP BY provider, model",
            select.join(", "),
            resolution.request_table(),
            range(backend)
        );
        let rows = in_range(db, sql, from, to).await?;
        for row in &rows {
            let key = (row.try_get("", "provider")?, row.try_get("", "model")?);
            out.entry(key).or_default().add(&Totals::read(row)?);
        }
    }
    Ok(out)
}

/// Everything `/admin/metrics/summary` shows for a window.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub since_bucket: i64,
    pub totals: Totals,
    pub p95_latency_ms: Option<f64>,
    pub top_models: Vec<Group>,
    pub top_providers: Vec<Group>,
    pub top_tokens: Vec<Group>,
}

/// The summary of the window starting at `since`: the (provider, model) cells — totals and
/// both top lists are added up from their few rows — the latency histogram and the token
/// rollups.
pub async fn report(
    db: &DatabaseConnection,
    since: i64,
    now: i64,
    top_n: usize,
) -> Result<Report, DbErr> {
    let cells = cells(db, since, now).await?;
    let mut totals = Totals::default();
    let mut models: BTreeMap<String, Totals> = BTreeMap::new();
    let mut providers: BTreeMap<String, Totals> = BTreeMap::new();
    for ((provider, model), t) in &cells {
        totals.add(t);
        models.entry(model.clone()).or_default().add(t);
        providers.entry(provider.clone()).or_default().add(t);
    }
    Ok(Report {
        since_bucket: since,
        totals,
        p95_latency_ms: latency_quantile(db, since, now, 0.95).await?,
        top_models: ranked(models, top_n),
        top_providers: ranked(providers, top_n),
        top_tokens: top_tokens(db, since, top_n as u64).await?,
    })
}

/// Per-model totals of the window, most requested first.
pub async fn distribution(
    db: &DatabaseConnection,
    since: i64,
    now: i64,
) -> Result<Vec<Group>, DbErr> {
    let mut models: BTreeMap<String, Totals> = BTreeMap::new();
    for ((_, model), t) in cells(db, since, now).await? {
        models.entry(model).or_default().add(&t);
    }
    Ok(ranked(models, usize::MAX))
}

/// The `n` largest by requests (ties by key).
fn ranked(groups: BTreeMap<String, Totals>, n: usize) -> Vec<Group> {
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(key, t)| Group {
            key,
            requests: t.requests,
            errors: t.errors,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            total_tokens: t.total_tokens,
            amount_nano: t.amount_nano,
        })
        .collect();
    out.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.key.cmp(&b.key)));
    out.truncate(n);
    out
}

/// The `limit` tokens with the most requests since `since`, rounded out to whole hours
/// (token rollups are hourly: tokens can be many).
pub async fn top_tokens(
    db: &DatabaseConnection,
    since: i64,
    limit: u64,
) -> Result<Vec<Group>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT token_id, {}, {}, {}, {} FROM token_rollups WHERE {} \
         GROUP BY token_id ORDER BY requests DESC, token_id LIMIT {limit}",
        sum("requests"),
        sum("errors"),
        sum("total_tokens"),
        sum("amount_nano"),
        range(backend),
    );
    let rows = in_range(db, sql, token_bucket(since), i64::MAX).await?;
    rows.iter()
        .map(|row| {
            Ok(Group {
                key: row.try_get::<i32>("", "token_id")?.to_string(),
                requests: get(row, "requests")?,
                errors: get(row, "errors")?,
                prompt_tokens: 0,
                completion_tokens: 0,
                total_tokens: get(row, "total_tokens")?,
                amount_nano: get(row, "amount_nano")?,
            })
        })
        .collect()
}

/// The latency at quantile `q` (0..1) over the window, from the histogram rollups: the
/// upper bound of the slot holding it (at most one slot, 19 %, above the true value).
pub async fn latency_quantile(
    db: &DatabaseConnection,
    since: i64,
    now: i64,
    q: f64,
) -> Result<Option<f64>, DbErr> {
    let backend = db.get_database_backend();
    let mut slots: BTreeMap<i32, i64> = BTreeMap::new();
    for (resolution, from, to) in spans(since, now) {
        let sql = format!(
            "SELECT slot, {} FROM {} WHERE {} GROUP BY slot",
            sum("count"),
            resolution.latency_table(),
            range(backend)
        );
        let rows = in_range(db, sql, from, to).await?;
        for row in &rows {
            *slots.entry(row.try_get::<i32>("", "slot")?).or_default() += get(row, "count")?;
        }
    }
    let slots: Vec<(i32, i64)> = slots.into_iter().collect();
    Ok(quantile(&slots, q))
}

/// One step of a time series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    /// The step's first millisecond.
    pub at: i64,
    pub totals: Totals,
    /// The latency histogram of the step, (slot, count) in slot order.
    pub latency: Vec<(i32, i64)>,
}

/// The window starting at `since` (a minute) cut into steps of `step_ms` (a whole number of
/// minutes, or of hours past two days, when the hourly rollups are read): each step's
/// totals and latency histogram. Steps without calls are there, empty.
pub async fn series(
    db: &DatabaseConnection,
    since: i64,
    now: i64,
    step_ms: i64,
) -> Result<Vec<Point>, DbErr> {
    let backend = db.get_database_backend();
    let hourly = now - since > 2 * 86_400_000;
    let resolution = if hourly {
        super::rollups::Resolution::Hour
    } else {
        super::rollups::Resolution::Minute
    };
    let from = resolution.bucket(since);
    let unit = if hourly { 3_600_000 } else { 60_000 };
    let step_ms = ((step_ms.max(1) + unit - 1) / unit) * unit;
    let steps = ((now - from) / step_ms + 1).clamp(1, 10_000) as usize;
    let mut points: Vec<Point> = (0..steps)
        .map(|i| Point {
            at: from + i as i64 * step_ms,
            ..Point::default()
        })
        .collect();
    let index = |bucket: i64| (((bucket - from) / step_ms).max(0) as usize).min(steps - 1);
    let select: Vec<String> = SUMS.iter().map(|c| sum(c)).collect();
    let sql = format!(
        "SELECT bucket, {} FROM {} WHERE {} GROUP BY bucket",
        select.join(", "),
        resolution.request_table(),
        range(backend)
    );
    let rows = in_range(db, sql, from, i64::MAX).await?;
    for row in &rows {
        let bucket: i64 = row.try_get("", "bucket")?;
        points[index(bucket)].totals.add(&Totals::read(row)?);
    }
    let sql = format!(
        "SELECT bucket, slot, {} FROM {} WHERE {} GROUP BY bucket, slot",
        sum("count"),
        resolution.latency_table(),
        range(backend)
    );
    let rows = in_range(db, sql, from, i64::MAX).await?;
    let mut histograms: Vec<BTreeMap<i32, i64>> = vec![BTreeMap::new(); steps];
    for row in &rows {
        let bucket: i64 = row.try_get("", "bucket")?;
        *histograms[index(bucket)]
            .entry(row.try_get::<i32>("", "slot")?)
            .or_default() += get(row, "count")?;
    }
    for (point, histogram) in points.iter_mut().zip(histograms) {
        point.latency = histogram.into_iter().collect();
    }
    Ok(points)
}

/// The quantile of a histogram given as (slot, count) in slot order.
pub fn quantile(slots: &[(i32, i64)], q: f64) -> Option<f64> {
    let total: i64 = slots.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    // The rank of the q-quantile, 1-based (nearest-rank method).
    let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (slot, n) in slots {
        seen += n;
        if seen >= rank {
            return Some(slot_upper_ms(*slot));
        }
    }
    slots.last().map(|(s, _)| slot_upper_ms(*s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollups::slot;

    #[test]
    fn p95_from_a_histogram() {
        // 95 fast calls (10 ms) and 5 slow ones (1000 ms): p95 is fast, p99 slow.
        let slots = vec![(slot(10), 95), (slot(1000), 5)];
        let p95 = quantile(&slots, 0.95).unwrap();
        assert!((10.0..12.0).contains(&p95), "{p95}");
        let p99 = quantile(&slots, 0.99).unwrap();
        assert!((1000.0..1190.0).contains(&p99), "{p99}");
        assert_eq!(quantile(&[], 0.95), None);
    }

    #[test]
    fn windows_round_out_to_minutes() {
        assert_eq!(window_start(3_600_000 + 30_000, 60), 0);
        assert_eq!(window_start(10, i64::MAX), bucket(i64::MIN));
    }
}
