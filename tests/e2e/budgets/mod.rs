//! Budgets, rate limits and billing — every test of money in one place (their shared
//! helpers are in the harness: `price`, `token_with`, `settled_row`, `rows_of`, …):
//!
//! - `hard_limits`: budgets are hard however a client calls; estimates when usage is
//!   missing; price fallbacks.
//! - `accounting`: budgets, rate limits, prices and usage accounting end to end.
//! - `prompt_bounds` and `bound_classes`: the prompt reservation bounds what the upstream
//!   counts, however the request is written.
//! - `leaks`: money that cannot leak (caps in the field the upstream reads, metered
//!   counting, cut streams billed).
//! - `billing`: every billing class priced as the provider's invoice does.
//! - `across_instances`: budgets, rate limits and leases across a cluster on Postgres.

mod accounting;
mod across_instances;
mod alerts;
mod billing;
mod bound_classes;
mod concurrency;
mod hard_limits;
mod leaks;
mod periods;
mod prompt_bounds;
mod teams;
