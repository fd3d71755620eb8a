//! State shared by every handler: settings, the actors' addresses, and the read structures
//! the actors publish for the request path.

use std::sync::Arc;

use actix::Addr;
use sea_orm::DatabaseConnection;

use crate::accounting::ledger::LedgerState;
use crate::accounting::response_quota::ResponseQuota;
use crate::accounting::shared::SharedLimits;
use crate::actors::admin_gate::AdminGate;
use crate::actors::log_sink::{LogQueue, LogSink};
use crate::actors::provider_registry::ProviderRegistry;
use crate::actors::response_store::ResponseStore;
use crate::actors::usage_ledger::UsageLedger;
use crate::client_ip::TrustedProxies;
use crate::routing::table::{RoutingTable, SharedRouting};
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The database, for the admin plane and the actors; the request path reaches it only
    /// through `shared` and the actors.
    pub db: DatabaseConnection,
    /// The cluster's side of token limits (Postgres with `cluster.shared_limits`).
    pub shared: Option<SharedLimits>,
    pub registry: Addr<ProviderRegistry>,
    /// The routing table the registry publishes.
    pub routing: SharedRouting,
    pub ledger: Addr<UsageLedger>,
    /// Tokens, accounts and prices the ledger publishes.
    pub accounts: Arc<LedgerState>,
    pub logs: Addr<LogSink>,
    /// Admin login and admin keys.
    pub gate: Addr<AdminGate>,
    /// Stored Responses-API responses.
    pub responses: Addr<ResponseStore>,
    /// The per-token quota on them.
    pub response_quota: Arc<ResponseQuota>,
    /// Where finished calls wait for the `LogSink`.
    pub log_queue: Arc<LogQueue>,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Traces (`None`: off, no endpoint set).
    pub tracing: Option<Arc<crate::traces::Tracing>>,
}

impl AppState {
    /// The routing table in force.
    pub fn table(&self) -> Arc<RoutingTable> {
        self.routing.load_full()
    }
}
