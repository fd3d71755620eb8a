//! Leaf types of a call that every layer may use and that import nothing of the gateway.
//!
//! The typed model of a call, which every dialect maps to: the request (`call`), the whole
//! answer (`reply`) and the streamed answer as events (`event`), with the stream
//! interfaces (`stream`). Beside it: what a call is (`endpoint`), the kinds of upstream
//! (`api_type`), usage and estimates (`usage`), money (`money`), model names and globs
//! (`model_name`), the choice strategies (`strategy`) and text helpers (`text`).

pub mod api_type;
pub mod endpoint;
pub mod event;
pub mod model_name;
pub mod money;
pub mod outline;
pub mod reply;
pub mod request;
pub mod strategy;
pub mod stream;
pub mod text;
pub mod usage;
