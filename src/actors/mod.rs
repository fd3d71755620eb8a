//! The actors that own the gateway's state and do every write to it. The request path
//! reads what they publish (routing table, ledger state, log queue) without a message;
//! handlers message them for writes and for reads of what they hold.

pub mod admin_gate;
pub mod budget_alerts;
pub mod log_sink;
pub mod provider_registry;
pub mod response_store;
pub mod usage_ledger;
