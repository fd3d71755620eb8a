//! The actors that own the gateway's state. Handlers only send them messages.

pub mod admin_gate;
pub mod log_sink;
pub mod provider_registry;
pub mod response_store;
pub mod usage_ledger;
