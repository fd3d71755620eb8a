//! The change feed between instances on one Postgres. After an admin change an instance
//! announces which state changed (`pg_notify`); every instance listens on one connection of
//! its own and syncs that state at once instead of at its next poll. Polling stays the
//! fallback: a lost notification (listener reconnecting, `cluster.listen = false`, a pooler
//! that does not pass LISTEN through) only delays a change to the next sync tick.

use std::sync::OnceLock;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The Postgres channel every instance listens on.
pub const CHANNEL: &str = "gateway_changes";

/// What changed, so a listener syncs only the actor that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Providers, keys, redirects or key cool-downs (`ProviderRegistry`).
    Routing,
    /// Tokens or prices (`UsageLedger`).
    Accounts,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Routing => "routing",
            Change::Accounts => "accounts",
        }
    }

    fn parse(s: &str) -> Option<Change> {
        match s {
            "routing" => Some(Change::Routing),
            "accounts" => Some(Change::Accounts),
            _ => None,
        }
    }
}

/// This process's id in payloads, so an instance skips its own announcements.
fn instance() -> u64 {
    static ID: OnceLock<u64> = OnceLock::new();
    *ID.get_or_init(rand::random)
}

fn payload(change: Change, from: u64) -> String {
    format!("{} {from:016x}", change.as_str())
}

/// A payload's change, unless it is unknown or this instance sent it.
fn parse_payload(payload: &str, own: u64) -> Option<Change> {
    let (kind, from) = payload.split_once(' ')?;
    let from = u64::from_str_radix(from, 16).ok()?;
    (from != own).then_some(())?;
    Change::parse(kind)
}

/// Tells the other instances that `change` happened (after it committed). Best effort: a
/// failure is logged and the others pick the change up by polling.
pub async fn announce(db: &DatabaseConnection, change: Change) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload(change, instance()).into()],
    );
    if let Err(e) = db.execute(stmt).await {
        log::warn!("cannot announce a {} change: {e}", change.as_str());
    }
}

/// Listens on `url` until the process ends, calling `on_change` with each change another
/// instance announces, and with `None` whenever notifications may have been missed (first
/// connection, reconnections): the caller then syncs everything.
pub async fn listen(url: String, on_change: impl Fn(Option<Change>)) {
    use sea_orm::sqlx::postgres::PgListener;
    metrics::gauge!("gateway_change_feed_up").set(0.0);
    let own = instance();
    let mut pause = Duration::from_millis(250);
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                log::warn!("change feed: cannot connect ({e}); polling only, retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            log::warn!("change feed: LISTEN failed ({e}); polling only, retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
            continue;
        }
        log::info!("change feed: listening on '{CHANNEL}'");
        metrics::gauge!("gateway_change_feed_up").set(1.0);
        pause = Duration::from_millis(250);
        on_change(None);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(change) = parse_payload(n.payload(), own) {
                        on_change(Some(change));
                    }
                }
                // The connection dropped and was made again (LISTEN included): whatever
                // was announced in between is lost, so sync everything.
                Ok(None) => {
                    log::warn!("change feed: connection lost and re-established");
                    on_change(None);
                }
                Err(e) => {
                    log::warn!("change feed: {e}; reconnecting");
                    metrics::gauge!("gateway_change_feed_up").set(0.0);
                    break;
                }
            }
        }
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_own_ones_are_skipped() {
        for change in [Change::Routing, Change::Accounts] {
            let p = payload(change, 42);
            assert_eq!(parse_payload(&p, 7), Some(change));
            assert_eq!(parse_payload(&p, 42), None);
        }
        assert_eq!(parse_payload("routing", 7), None);
        assert_eq!(parse_payload("sessions 0000000000000001", 7), None);
        assert_eq!(parse_payload("routing zz", 7), None);
    }
}
