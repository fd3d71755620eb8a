//! Leaf types of a call that every layer may use and that import nothing of the gateway:
//! what a call is (`endpoint`), the kinds of upstream (`api_type`), usage and estimates
//! (`usage`), money (`money`), model names and globs (`model_name`), the choice strategies
//! (`strategy`), the stream-translation interface (`stream`) and text helpers (`text`).

pub mod api_type;
pub mod endpoint;
pub mod model_name;
pub mod money;
pub mod strategy;
pub mod stream;
pub mod text;
pub mod usage;
