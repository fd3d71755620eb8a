//! Where a token's or a team's shared limits live in the database: the row with its
//! counters and held amounts, its budget leases, its concurrency holds and its rate
//! windows. The cluster's SQL is written once over these names.

/// The tables of one kind of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tables {
    /// The rows with the limits, counters and `held_*` amounts.
    pub owner: &'static str,
    /// Budget leases.
    pub holds: &'static str,
    /// Concurrency holds.
    pub slots: &'static str,
    /// Shared per-minute windows.
    pub windows: &'static str,
    /// The column naming the owner in the other three.
    pub fk: &'static str,
}

pub const TOKENS: Tables = Tables {
    owner: "tokens",
    holds: "budget_holds",
    slots: "parallel_holds",
    windows: "rate_windows",
    fk: "token_id",
};

pub const TEAMS: Tables = Tables {
    owner: "teams",
    holds: "team_budget_holds",
    slots: "team_parallel_holds",
    windows: "team_rate_windows",
    fk: "team_id",
};
