//! `TeamInfo`: a team's settings as the request path checks them. A call of a token in a
//! team is admitted only when both allow it: both budgets, both rate and concurrency
//! limits, both allow-lists.

use entity::team;

use crate::accounting::period::BudgetPeriod;
use crate::accounting::token::allows;
use crate::accounting::Limits;
use crate::core::money::Money;
use crate::error::ApiError;
use crate::store::models_from_db;

#[derive(Debug, Clone)]
pub struct TeamInfo {
    pub id: i32,
    pub name: String,
    pub allowed_models: Option<Vec<String>>,
    pub limits: Limits,
    pub enabled: bool,
}

impl TeamInfo {
    pub fn from_row(row: &team::Model) -> TeamInfo {
        TeamInfo {
            id: row.id,
            name: row.name.clone(),
            allowed_models: models_from_db(row.allowed_models.as_ref()),
            limits: Limits {
                max_tokens: row.max_tokens,
                max_amount: row.max_amount_nano.map(Money::from_nanos),
                rpm: row.rpm,
                tpm: row.tpm,
                max_parallel: row.max_parallel,
                period: BudgetPeriod::from_stored(&row.budget_period),
                created_at: row.created_at,
            },
            enabled: row.enabled,
        }
    }

    /// Whether the team lets its tokens call `model` on `provider`.
    pub fn allows(&self, provider: &str, model: &str) -> bool {
        allows(self.allowed_models.as_deref(), provider, model)
    }

    /// A disabled team refuses its tokens' calls.
    pub fn check_usable(&self) -> Result<(), ApiError> {
        if self.enabled {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(
                "this token's team is disabled".into(),
            ))
        }
    }
}
