//! Database access through the sea-orm entities, one module per aggregate.
//! Actors and the CLI call these; handlers never do.

pub mod logs;
pub mod prices;
pub mod providers;
pub mod tokens;
