//! Money: integer nano-dollars (1e-9 USD), the unit every counter and price uses.

/// USD → integer nano-dollars, refusing negative, non-finite or absurd amounts.
pub fn usd_to_nano(amount: f64) -> Result<i64, String> {
    if !amount.is_finite() || !(0.0..=1e9).contains(&amount) {
        return Err(format!(
            "invalid amount {amount}: must be between 0 and 1e9 USD"
        ));
    }
    Ok((amount * 1e9).round() as i64)
}

pub fn nano_to_usd(nano: i64) -> f64 {
    nano as f64 / 1e9
}
