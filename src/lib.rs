//! Gateway Zero: an LLM API gateway speaking OpenAI's Chat and Responses APIs and
//! Anthropic's Messages API to clients and to upstreams.
//!
//! A call goes: `handlers::call` (authenticate, read and peek the body in the client's
//! dialect) → `routing` (the published routing table resolves the model to candidates) →
//! `admission` (allow-list, limits, the prompt bound per call leg, the reservation) →
//! `proxy` (pick a key from the candidate's key set, one exchange through its `upstream`
//! adapter and leg, fail over, relay a stream) → `call` (settle usage and cost, queue the
//! log row for the `LogSink`). docs/architecture.md has the whole map.

pub mod accounting;
pub mod actors;
pub mod admission;
pub mod bootstrap;
pub mod call_record;
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
pub mod trace_context;
pub mod traces;
pub mod upstream;
