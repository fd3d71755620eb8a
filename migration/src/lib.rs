//! Database migrations. They run at gateway start and with `gateway-zero migrate`,
//! on SQLite and Postgres alike.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_init;
mod m20261128_000001_hardening;
mod m20261128_000002_cache_writes;
mod m20261129_000001_admin_plane;
mod m20261130_000001_cluster_state;
mod m20261201_000001_login_attempts;
mod m20261202_000001_stored_responses;
mod m20261204_000001_billing_classes;
mod m20261205_000001_end_users;
mod m20261205_000002_max_parallel;
mod m20261206_000001_teams;
mod m20261207_000001_error_log_index;
mod m20261207_000002_trace_ids;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_init::Migration),
            Box::new(m20261128_000001_hardening::Migration),
            Box::new(m20261128_000002_cache_writes::Migration),
            Box::new(m20261129_000001_admin_plane::Migration),
            Box::new(m20261130_000001_cluster_state::Migration),
            Box::new(m20261201_000001_login_attempts::Migration),
            Box::new(m20261202_000001_stored_responses::Migration),
            Box::new(m20261204_000001_billing_classes::Migration),
            Box::new(m20261205_000001_end_users::Migration),
            Box::new(m20261205_000002_max_parallel::Migration),
            Box::new(m20261206_000001_teams::Migration),
            Box::new(m20261207_000001_error_log_index::Migration),
            Box::new(m20261207_000002_trace_ids::Migration),
        ]
    }
}
