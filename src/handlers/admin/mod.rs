//! The admin API: providers and keys, tokens, prices, model redirects, admin keys, request
//! logs, metrics and the audit trail.

pub mod admin_keys;
pub mod audit;
pub mod end_users;
pub mod limits_input;
pub mod logs;
pub mod metrics;
pub mod paging;
pub mod price_import;
pub mod prices;
pub mod provider_keys;
pub mod providers;
pub mod redirects;
pub mod teams;
pub mod tokens;

use serde::{Deserialize, Deserializer};

/// For PATCH fields where `null` (clear) differs from absent (keep).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Maps an actor mailbox failure to a 500.
pub fn mailbox(e: actix::MailboxError) -> crate::error::ApiError {
    crate::error::ApiError::internal("actor unavailable", e)
}
