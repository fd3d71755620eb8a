//! The routing table: providers, their keys and redirects, as one immutable snapshot.

pub mod key_outcome;
pub mod keys;
pub mod provider_input;
pub mod table;
