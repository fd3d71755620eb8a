//! The tokens a token's calls used in the last minute, for `tpm`: per-second sums in a
//! fixed ring, so recording and reading cost O(1) and memory stays 61 slots however many
//! calls a minute holds. Calls in flight count by their reservation (the account's
//! `reserved_tokens`) and are trued up to their usage when they settle, which lands here.
//!
//! Usage recorded in second `s` counts until the end of second `s + 60`: between 60 and 61
//! seconds, never less than a minute — the limit is never exceeded, at the price of one
//! second's lateness in giving tokens back.

use std::time::Instant;

/// Seconds a minute's window spans, plus the second in progress.
const SLOTS: usize = 61;

#[derive(Debug)]
pub struct TokenWindow {
    /// Where seconds are counted from.
    base: Instant,
    /// Tokens recorded per second; slot `s % SLOTS` holds second `s`.
    sums: [i64; SLOTS],
    /// The latest second the ring has been advanced to.
    second: u64,
    /// The sum of `sums`.
    total: i64,
}

impl TokenWindow {
    pub fn new(now: Instant) -> TokenWindow {
        TokenWindow {
            base: now,
            sums: [0; SLOTS],
            second: 0,
            total: 0,
        }
    }

    /// Moves the ring to `now`, forgetting the seconds that left the window.
    fn advance(&mut self, now: Instant) -> usize {
        let second = now.saturating_duration_since(self.base).as_secs();
        let gone = second.saturating_sub(self.second).min(SLOTS as u64);
        for step in 1..=gone {
            let slot = ((self.second + step) % SLOTS as u64) as usize;
            self.total = self.total.saturating_sub(self.sums[slot]);
            self.sums[slot] = 0;
        }
        self.second = self.second.max(second);
        (self.second % SLOTS as u64) as usize
    }

    /// Records `tokens` used at `now`.
    pub fn record(&mut self, now: Instant, tokens: i64) {
        let slot = self.advance(now);
        self.sums[slot] = self.sums[slot].saturating_add(tokens.max(0));
        self.total = self.total.saturating_add(tokens.max(0));
    }

    /// Tokens used in the window ending at `now`.
    pub fn used(&mut self, now: Instant) -> i64 {
        self.advance(now);
        self.total
    }

    /// Whole seconds until the oldest usage still counted leaves the window (1 when
    /// nothing is: what fills the minute is calls in flight, which settle soon).
    pub fn frees_in_secs(&mut self, now: Instant) -> u64 {
        let current = self.advance(now) as u64;
        // Slots after the current one, in ring order, hold the oldest seconds.
        for age in (1..SLOTS as u64).rev() {
            let slot = ((current + SLOTS as u64 - age) % SLOTS as u64) as usize;
            if self.sums[slot] > 0 {
                return (SLOTS as u64 - age).max(1);
            }
        }
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_wait_is_until_the_oldest_usage_leaves() {
        let start = Instant::now();
        let mut w = TokenWindow::new(start);
        assert_eq!(w.frees_in_secs(start), 1, "empty: soon");
        w.record(start + Duration::from_secs(5), 40);
        w.record(start + Duration::from_secs(20), 10);
        // At second 30 the usage of second 5 counts until the end of second 65.
        assert_eq!(w.frees_in_secs(start + Duration::from_secs(30)), 36);
        assert_eq!(w.used(start + Duration::from_secs(66)), 10);
        assert_eq!(w.frees_in_secs(start + Duration::from_secs(66)), 15);
    }

    #[test]
    fn usage_leaves_after_a_minute_and_at_most_a_second() {
        let start = Instant::now();
        let mut w = TokenWindow::new(start);
        w.record(start + Duration::from_millis(900), 40);
        w.record(start + Duration::from_secs(30), 10);
        assert_eq!(w.used(start + Duration::from_secs(60)), 50, "never early");
        assert_eq!(w.used(start + Duration::from_millis(60_900)), 50);
        assert_eq!(
            w.used(start + Duration::from_secs(61)),
            10,
            "a second late at most"
        );
        assert_eq!(w.used(start + Duration::from_secs(91)), 0);
    }

    #[test]
    fn a_long_silence_empties_the_window_at_once() {
        let start = Instant::now();
        let mut w = TokenWindow::new(start);
        for s in 0..61 {
            w.record(start + Duration::from_secs(s), 1);
        }
        assert_eq!(w.used(start + Duration::from_secs(60)), 61);
        assert_eq!(w.used(start + Duration::from_secs(3600)), 0);
        w.record(start + Duration::from_secs(3600), 5);
        assert_eq!(w.used(start + Duration::from_secs(3601)), 5);
    }

    #[test]
    fn a_clock_read_out_of_order_counts_in_the_latest_second() {
        let start = Instant::now();
        let mut w = TokenWindow::new(start);
        w.record(start + Duration::from_secs(10), 3);
        // An earlier `now` (taken before a lock, used after) is not a step back.
        w.record(start + Duration::from_secs(9), 4);
        assert_eq!(w.used(start + Duration::from_secs(70)), 7);
        assert_eq!(w.used(start + Duration::from_secs(71)), 0);
    }
}
