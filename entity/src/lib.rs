//! sea-orm entities for every table of Gateway Zero.
//!
//! Timestamps are Unix milliseconds (`i64`) so that SQLite and Postgres store and compare
//! them the same way. Money is stored as integer nano-dollars (1e-9 USD) so counters can be
//! incremented atomically and summed exactly.

pub mod admin_key;
pub mod admin_session;
pub mod audit_log;
pub mod columns;
pub mod login_challenge;
pub mod model_price;
pub mod model_redirect;
pub mod provider;
pub mod provider_key;
pub mod request_log;
pub mod stored_response;
pub mod team;
pub mod token;

pub mod prelude {
    pub use super::admin_key::Entity as AdminKey;
    pub use super::admin_session::Entity as AdminSession;
    pub use super::audit_log::Entity as AuditLog;
    pub use super::login_challenge::Entity as LoginChallenge;
    pub use super::model_price::Entity as ModelPrice;
    pub use super::model_redirect::Entity as ModelRedirect;
    pub use super::provider::Entity as Provider;
    pub use super::provider_key::Entity as ProviderKey;
    pub use super::request_log::Entity as RequestLog;
    pub use super::stored_response::Entity as StoredResponse;
    pub use super::team::Entity as Team;
    pub use super::token::Entity as Token;
}
