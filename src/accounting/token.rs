//! `TokenInfo`: a token's settings as the request path checks them.

use crate::accounting::period::BudgetPeriod;
use crate::accounting::Limits;
use crate::core::model_name::glob_match;
use crate::error::ApiError;
use crate::store::models_from_db;
use crate::store::tokens::Role;
use entity::token;

/// What the request path needs to know about a token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i32,
    pub name: String,
    pub role: Role,
    pub allowed_models: Option<Vec<String>>,
    pub limits: Limits,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    /// The team whose limits its calls also answer to.
    pub team_id: Option<i32>,
}

impl TokenInfo {
    pub fn from_row(row: &token::Model) -> TokenInfo {
        TokenInfo {
            id: row.id,
            name: row.name.clone(),
            role: row.role.clone(),
            allowed_models: models_from_db(row.allowed_models.as_ref()),
            limits: Limits {
                max_tokens: row.max_tokens,
                max_amount: row
                    .max_amount_nano
                    .map(crate::core::money::Money::from_nanos),
                rpm: row.rpm,
                tpm: row.tpm,
                max_parallel: row.max_parallel,
                period: BudgetPeriod::from_stored(&row.budget_period),
                created_at: row.created_at,
            },
            expires_at: row.expires_at,
            enabled: row.enabled,
            team_id: row.team_id,
        }
    }

    /// Enabled and not expired at `now_ms`.
    pub fn check_usable(&self, now_ms: i64) -> Result<(), ApiError> {
        // Fail closed: a role this build does not know refuses the token.
        if !self.enabled || matches!(self.role, Role::Unrecognized(_)) {
            return Err(ApiError::TokenDisabled);
        }
        if self.expires_at.is_some_and(|t| t <= now_ms) {
            return Err(ApiError::TokenExpired);
        }
        Ok(())
    }

    /// Whether this token may call `model` (the name without any provider prefix) on
    /// `provider`, the provider routing chose. A pattern without `/` names the bare model
    /// (`gpt-4o*`: on any provider); a pattern with `/` names `provider/model` (`openai/*`:
    /// only there; `*/meta-llama/*` for names that contain a slash themselves). Adding or
    /// dropping a prefix in the request therefore cannot widen what is allowed.
    pub fn allows(&self, provider: &str, model: &str) -> bool {
        allows(self.allowed_models.as_deref(), provider, model)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Whether an allow-list (`None`: everything) lets a call use `model` on `provider` (see
/// [`TokenInfo::allows`]; teams read their lists the same way).
pub fn allows(list: Option<&[String]>, provider: &str, model: &str) -> bool {
    let Some(list) = list else {
        return true;
    };
    let qualified = format!("{provider}/{model}");
    list.iter().any(|p| {
        if p.contains('/') {
            glob_match(p, &qualified)
        } else {
            glob_match(p, model)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(models: Option<Vec<&str>>) -> TokenInfo {
        TokenInfo {
            id: 1,
            name: "t".into(),
            role: Role::Client,
            allowed_models: models.map(|m| m.into_iter().map(String::from).collect()),
            limits: Limits::default(),
            expires_at: None,
            enabled: true,
            team_id: None,
        }
    }

    #[test]
    fn allow_list_bare_and_qualified() {
        let t = info(Some(vec!["gpt-4o-mini", "openai/gpt-4o"]));
        assert!(t.allows("openai", "gpt-4o-mini"));
        assert!(t.allows("other", "gpt-4o-mini"));
        assert!(t.allows("openai", "gpt-4o"));
        assert!(
            !t.allows("other", "gpt-4o"),
            "qualified rule binds the provider"
        );
        assert!(!t.allows("openai", "o1"));
        let t = info(Some(vec!["openai/*"]));
        assert!(t.allows("openai", "anything"));
        assert!(
            !t.allows("evil", "openai/anything"),
            "bare part cannot pose as provider"
        );
        assert!(!t.allows("evil", "gpt"));
        assert!(info(None).allows("p", "anything"));
        let t = info(Some(vec!["*/meta-llama/*"]));
        assert!(t.allows("hf", "meta-llama/Llama-3-8B"));
    }

    #[test]
    fn usability() {
        let mut t = info(None);
        assert!(t.check_usable(1000).is_ok());
        t.expires_at = Some(1000);
        assert!(matches!(t.check_usable(1000), Err(ApiError::TokenExpired)));
        t.enabled = false;
        assert!(matches!(t.check_usable(0), Err(ApiError::TokenDisabled)));
    }
}
