//! The limits a token and a team share, as the admin API reads them: names, allow-lists,
//! budgets, periods, rates and concurrency caps, each checked with a 400 naming the field.

use crate::accounting::period::BudgetPeriod;
use crate::core::money::Money;
use crate::error::ApiError;
use crate::time::parse_rfc3339;

pub fn name(text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 100 {
        return Err(ApiError::invalid_param(
            "name",
            "name must be 1-100 characters",
        ));
    }
    Ok(t.to_string())
}

pub fn models(list: Vec<String>) -> Result<Vec<String>, ApiError> {
    if list.iter().any(|m| m.trim().is_empty() || m.len() > 200) {
        return Err(ApiError::invalid_param(
            "allowed_models",
            "allowed_models must be model names or globs",
        ));
    }
    Ok(list.into_iter().map(|m| m.trim().to_string()).collect())
}

pub fn max_tokens(n: i64) -> Result<i64, ApiError> {
    (n >= 0)
        .then_some(n)
        .ok_or_else(|| ApiError::invalid_param("max_tokens", "max_tokens must not be negative"))
}

pub fn amount(usd: f64) -> Result<i64, ApiError> {
    Money::from_usd(usd)
        .map(Money::nanos)
        .map_err(|e| ApiError::invalid_param("max_amount", e))
}

pub fn expiry(text: &str) -> Result<i64, ApiError> {
    parse_rfc3339(text).map_err(|e| ApiError::invalid_param("expires_at", e))
}

/// A concurrency cap: 1..=100000 calls in flight.
pub fn max_parallel(n: i64) -> Result<i32, ApiError> {
    i32::try_from(n)
        .ok()
        .filter(|n| (1..=100_000).contains(n))
        .ok_or_else(|| ApiError::invalid_param("max_parallel", "max_parallel must be 1..=100000"))
}

pub fn per_minute(field: &'static str, n: i64) -> Result<i32, ApiError> {
    i32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::invalid_param(field, format!("{field} must be a positive integer"))
    })
}

/// A budget period: its stored text.
pub fn budget_period(text: &str) -> Result<String, ApiError> {
    BudgetPeriod::parse(text)
        .map(|p| p.text())
        .map_err(|e| ApiError::invalid_param("budget_period", e))
}

/// Validates an optional-nullable field: absent stays absent, null clears, a value is checked.
pub fn nullable<T, U>(
    v: Option<Option<T>>,
    check: impl Fn(T) -> Result<U, ApiError>,
) -> Result<Option<Option<U>>, ApiError> {
    v.map(|inner| inner.map(check).transpose()).transpose()
}
