//! Where a call may go: the routing table (providers, their keys and redirects, as one
//! immutable snapshot), each provider's key set and what an attempt says of a key, and the
//! rules a provider's settings must follow.

pub mod key_outcome;
pub mod keys;
pub mod provider_input;
pub mod table;
