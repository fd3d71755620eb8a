//! Budget periods (pure logic): which stretch of time a token's or team's budget counts.
//! Calendar periods (`daily`, `weekly` from Monday, `monthly` from the 1st) follow the
//! civil calendar of `budgets.timezone`, so a day is 23 or 25 hours across a DST change;
//! fixed lengths (`15m`, `1h`, `30d`) count from the subject's creation. `none` is one
//! period from the epoch on: the budget is for the subject's life.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Fixed periods are at most ten years long.
const MAX_FIXED_MS: i64 = 3_660 * 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetPeriod {
    #[default]
    None,
    Daily,
    Weekly,
    Monthly,
    /// A fixed length in ms, counted from the subject's creation.
    Fixed(i64),
}

/// The period a moment falls in: `[start, end)` in Unix ms (`end` `None`: it never ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub start: i64,
    pub end: Option<i64>,
}

impl BudgetPeriod {
    /// `none`, `daily`, `weekly`, `monthly` or `<n>m` / `<n>h` / `<n>d` (n ≥ 1).
    pub fn parse(text: &str) -> Result<BudgetPeriod, String> {
        let fail = || {
            format!(
                "budget_period must be \"none\", \"daily\", \"weekly\", \"monthly\" or a length \
                 like \"15m\", \"1h\", \"30d\" (at most 3660 days), not {:?}",
                text.chars().take(40).collect::<String>()
            )
        };
        match text {
            "none" => return Ok(BudgetPeriod::None),
            "daily" => return Ok(BudgetPeriod::Daily),
            "weekly" => return Ok(BudgetPeriod::Weekly),
            "monthly" => return Ok(BudgetPeriod::Monthly),
            _ => {}
        }
        let unit = text.chars().last().ok_or_else(fail)?;
        let digits = &text[..text.len() - unit.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
            return Err(fail());
        }
        let n: i64 = digits.parse().map_err(|_| fail())?;
        let ms = match unit {
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(fail()),
        };
        let len = n.checked_mul(ms).ok_or_else(fail)?;
        if n < 1 || len > MAX_FIXED_MS {
            return Err(fail());
        }
        Ok(BudgetPeriod::Fixed(len))
    }

    /// The stored and shown text (a fixed length in its largest whole unit).
    pub fn text(&self) -> String {
        match self {
            BudgetPeriod::None => "none".into(),
            BudgetPeriod::Daily => "daily".into(),
            BudgetPeriod::Weekly => "weekly".into(),
            BudgetPeriod::Monthly => "monthly".into(),
            BudgetPeriod::Fixed(ms) if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
            BudgetPeriod::Fixed(ms) if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
            BudgetPeriod::Fixed(ms) => format!("{}m", ms / 60_000),
        }
    }

    /// A stored text; an unreadable one (never written by this build) counts as the
    /// shortest period a row could name rather than none, so it can only make budgets
    /// stricter: a day.
    pub fn from_stored(text: &str) -> BudgetPeriod {
        BudgetPeriod::parse(text).unwrap_or(BudgetPeriod::Daily)
    }

    /// The period `now_ms` falls in, for a subject created at `created_ms`.
    pub fn bounds(&self, now_ms: i64, created_ms: i64, tz: &TimeZone) -> Bounds {
        let calendar = |first: fn(Date) -> Date, next: fn(Date) -> Option<Date>| {
            let Ok(at) = Timestamp::from_millisecond(now_ms) else {
                return Bounds {
                    start: 0,
                    end: None,
                };
            };
            let today = at.to_zoned_datetime(tz.clone()).date();
            let start = first(today);
            let midnight = |d: Date| {
                d.to_zoned_datetime(tz.clone())
                    .map(|z| z.timestamp().as_millisecond())
                    .ok()
            };
            Bounds {
                start: midnight(start).unwrap_or(0),
                end: next(start).and_then(midnight),
            }
        };
        match *self {
            BudgetPeriod::None => Bounds {
                start: 0,
                end: None,
            },
            BudgetPeriod::Daily => calendar(|d| d, |d| d.tomorrow().ok()),
            BudgetPeriod::Weekly => calendar(
                |d| {
                    let back = i64::from(d.weekday().to_monday_zero_offset());
                    d.checked_sub(back.days()).unwrap_or(d)
                },
                |d| d.checked_add(7.days()).ok(),
            ),
            BudgetPeriod::Monthly => {
                calendar(|d| d.first_of_month(), |d| d.checked_add(1.month()).ok())
            }
            BudgetPeriod::Fixed(len) => {
                let k = now_ms.saturating_sub(created_ms).max(0) / len;
                let start = created_ms.saturating_add(k.saturating_mul(len));
                Bounds {
                    start,
                    end: Some(start.saturating_add(len)),
                }
            }
        }
    }
}

/// The time zone of `budgets.timezone`: an IANA name (`UTC` needs no database).
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    if name.eq_ignore_ascii_case("utc") {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|e| format!("budgets.timezone {name:?} is not a time zone: {e}"))
}

/// Unix ms as RFC 3339 in UTC (for messages and answers).
pub fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// As [`rfc3339`], null kept.
pub fn rfc3339_opt(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn parses_calendar_and_fixed_periods_and_refuses_the_rest() {
        assert_eq!(BudgetPeriod::parse("monthly"), Ok(BudgetPeriod::Monthly));
        assert_eq!(BudgetPeriod::parse("15m"), Ok(BudgetPeriod::Fixed(900_000)));
        assert_eq!(BudgetPeriod::parse("30d").unwrap().text(), "30d");
        assert_eq!(BudgetPeriod::parse("120m").unwrap().text(), "2h");
        for bad in [
            "",
            "0m",
            "m",
            "1s",
            "-1h",
            "1.5h",
            "Monthly",
            "99999999999d",
            "3661d",
            "1 h",
            "１h",
        ] {
            assert!(BudgetPeriod::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            BudgetPeriod::from_stored("fortnightly"),
            BudgetPeriod::Daily
        );
    }

    #[test]
    fn calendar_periods_follow_the_time_zone() {
        let utc = TimeZone::UTC;
        let now = ms("2026-12-04T06:40:00Z");
        let b = BudgetPeriod::Daily.bounds(now, 0, &utc);
        assert_eq!(
            (b.start, b.end),
            (ms("2026-12-04T00:00:00Z"), Some(ms("2026-12-05T00:00:00Z")))
        );
        // 2026-12-04 is a Friday: the week began on Monday the 30th of November.
        let b = BudgetPeriod::Weekly.bounds(now, 0, &utc);
        assert_eq!(
            (b.start, b.end),
            (ms("2026-11-30T00:00:00Z"), Some(ms("2026-12-07T00:00:00Z")))
        );
        let b = BudgetPeriod::Monthly.bounds(now, 0, &utc);
        assert_eq!(
            (b.start, b.end),
            (ms("2026-12-01T00:00:00Z"), Some(ms("2027-01-01T00:00:00Z")))
        );
        // In Tokyo it is already the afternoon of the 4th; in Los Angeles still the 3rd.
        let tokyo = time_zone("Asia/Tokyo").unwrap();
        let b = BudgetPeriod::Daily.bounds(now, 0, &tokyo);
        assert_eq!(b.start, ms("2026-12-03T15:00:00Z"));
        let la = time_zone("America/Los_Angeles").unwrap();
        let b = BudgetPeriod::Daily.bounds(now, 0, &la);
        assert_eq!(b.start, ms("2026-12-03T08:00:00Z"));
        // The day clocks go forward has 23 hours.
        let b = BudgetPeriod::Daily.bounds(ms("2026-03-08T12:00:00Z"), 0, &la);
        assert_eq!(b.end.unwrap() - b.start, 23 * 3_600_000);
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn fixed_periods_count_from_creation_and_none_never_ends() {
        let created = ms("2026-12-04T06:07:00Z");
        let hour = BudgetPeriod::Fixed(3_600_000);
        let b = hour.bounds(ms("2026-12-04T08:30:00Z"), created, &TimeZone::UTC);
        assert_eq!(
            (b.start, b.end),
            (ms("2026-12-04T08:07:00Z"), Some(ms("2026-12-04T09:07:00Z")))
        );
        // A clock behind the creation time: the first period.
        let b = hour.bounds(created - 5_000, created, &TimeZone::UTC);
        assert_eq!(b.start, created);
        let b = BudgetPeriod::None.bounds(ms("2026-12-04T08:30:00Z"), created, &TimeZone::UTC);
        assert_eq!((b.start, b.end), (0, None));
    }
}
