//! Money: an amount in integer nano-dollars (1e-9 USD), the unit of every price, cost,
//! budget and counter, with its arithmetic in one place. Integers so that sums are exact
//! and counters in the database and in Prometheus never drift.

use std::fmt;

/// An amount of money, in nano-dollars. Arithmetic saturates: no overflow wraps a budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    /// The largest amount a user may set (a budget, a price total): one billion dollars.
    const MAX_USD: f64 = 1e9;

    pub const fn from_nanos(nanos: i64) -> Money {
        Money(nanos)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// An amount given in USD, refusing negative, non-finite or absurd amounts.
    pub fn from_usd(amount: f64) -> Result<Money, String> {
        if !amount.is_finite() || !(0.0..=Self::MAX_USD).contains(&amount) {
            return Err(format!(
                "invalid amount {amount}: must be between 0 and 1e9 USD"
            ));
        }
        Ok(Money((amount * 1e9).round() as i64))
    }

    /// The amount in USD, for display and the API's JSON.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The price of `tokens` at `usd_per_million` USD per million tokens, as an exact
    /// fraction of nano-dollars (1 USD per million = 1,000 nano-dollars a token); rounded
    /// where a sum of such parts is settled (`from_fraction`).
    pub fn per_million(tokens: i64, usd_per_million: f64) -> f64 {
        tokens.max(0) as f64 * usd_per_million * 1000.0
    }

    /// A fractional amount of nano-dollars, rounded to the nearest (`up`: upwards, for
    /// reservations that must cover the worst case), clamped to the representable range.
    pub fn from_fraction(nanos: f64, up: bool) -> Money {
        let n = if up { nanos.ceil() } else { nanos.round() };
        Money(n.clamp(0.0, i64::MAX as f64) as i64)
    }

    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    /// What is left of `self` after `other`, never below zero.
    pub fn left_after(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0).max(0))
    }
}

impl fmt::Display for Money {
    /// `$1.234500` (six decimals: a millionth of a dollar still shows).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${:.6}", self.usd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_round_trips_and_bounds() {
        assert_eq!(Money::from_usd(1.5).unwrap().nanos(), 1_500_000_000);
        assert_eq!(Money::from_usd(0.000001).unwrap().nanos(), 1_000);
        assert!(Money::from_usd(-1.0).is_err());
        assert!(Money::from_usd(f64::NAN).is_err());
        assert!(Money::from_usd(2e9).is_err());
        assert_eq!(Money::from_nanos(2_500_000_000).usd(), 2.5);
        assert_eq!(Money::from_nanos(1_234_500_000).to_string(), "$1.234500");
    }

    #[test]
    fn arithmetic_saturates_and_never_goes_negative() {
        let max = Money::from_nanos(i64::MAX);
        assert_eq!(max.saturating_add(Money::from_nanos(5)), max);
        assert_eq!(
            Money::from_nanos(3).left_after(Money::from_nanos(5)),
            Money::ZERO
        );
        assert_eq!(Money::from_fraction(1.2, true).nanos(), 2);
        assert_eq!(Money::from_fraction(1.2, false).nanos(), 1);
        assert_eq!(Money::from_fraction(-4.0, false), Money::ZERO);
        assert_eq!(Money::from_fraction(1e30, false), max);
        assert_eq!(Money::per_million(1_000_000, 2.5), 2.5e9);
    }
}
