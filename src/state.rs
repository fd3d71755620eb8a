//! State shared by every handler: settings and the actors' addresses.

use std::sync::Arc;

use actix::Addr;
use sea_orm::DatabaseConnection;

use crate::actors::log_sink::LogSink;
use crate::actors::provider_registry::ProviderRegistry;
use crate::actors::usage_ledger::UsageLedger;
use crate::secrets::MasterKey;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub master: MasterKey,
    pub registry: Addr<ProviderRegistry>,
    pub ledger: Addr<UsageLedger>,
    pub logs: Addr<LogSink>,
}
