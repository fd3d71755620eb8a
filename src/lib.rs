//! Gateway Zero: an OpenAI-compatible LLM API gateway.
//!
//! A request goes: `handlers::client` (parse, authenticate through the `UsageLedger`) →
//! `ProviderRegistry` (route the model) → `proxy` (pick a key from the provider's `KeyPool`,
//! call the upstream through its `upstream` adapter, fail over) → `LogSink` (one log row).

pub mod accounting;
pub mod actors;
pub mod admission;
pub mod bootstrap;
pub mod call;
pub mod cli;
pub mod client_ip;
pub mod core;
pub mod db;
pub mod dialect;
pub mod error;
pub mod handlers;
pub mod openapi;
pub mod pricing;
pub mod proxy;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod upstream;
