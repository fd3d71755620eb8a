//! `UsageLedger`: owns gateway tokens in memory: authentication, enable/expiry checks,
//! the negative cache for unknown tokens, and (with accounting) budgets and usage.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use entity::token;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::ApiError;
use crate::routing::model_name::glob_match;
use crate::store::tokens::{self as store, models_from_db, Role};
use crate::time::now_ms;

/// What the request path needs to know about a token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i32,
    pub name: String,
    pub role: Role,
    pub allowed_models: Option<Vec<String>>,
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
}

impl TokenInfo {
    pub fn from_row(row: &token::Model) -> TokenInfo {
        TokenInfo {
            id: row.id,
            name: row.name.clone(),
            role: Role::parse(&row.role).unwrap_or(Role::Client),
            allowed_models: models_from_db(row.allowed_models.as_deref()),
            max_tokens: row.max_tokens,
            max_amount_nano: row.max_amount_nano,
            expires_at: row.expires_at,
            enabled: row.enabled,
            rpm: row.rpm,
            tpm: row.tpm,
        }
    }

    /// Enabled and not expired at `now_ms`.
    pub fn check_usable(&self, now_ms: i64) -> Result<(), ApiError> {
        if !self.enabled {
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
        let Some(list) = self.allowed_models.as_deref() else {
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

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

pub struct UsageLedger {
    db: DatabaseConnection,
    tokens: HashMap<String, Arc<TokenInfo>>,
    unknown: HashMap<String, Instant>,
    negative_ttl: Duration,
    sync_interval: Duration,
    synced_until: i64,
    syncing: bool,
}

impl UsageLedger {
    pub fn new(db: DatabaseConnection, negative_ttl: Duration, sync_interval: Duration) -> Self {
        UsageLedger {
            db,
            tokens: HashMap::new(),
            unknown: HashMap::new(),
            negative_ttl,
            sync_interval,
            synced_until: now_ms(),
            syncing: false,
        }
    }

    fn store_row(&mut self, row: &token::Model) {
        self.unknown.remove(&row.token_hash);
        self.tokens
            .insert(row.token_hash.clone(), Arc::new(TokenInfo::from_row(row)));
    }

    /// Picks up tokens changed by the admin API or another instance.
    fn sync(&mut self, ctx: &mut Context<Self>) {
        if self.syncing {
            return;
        }
        self.syncing = true;
        // Overlap a little so a row committed during the previous read is not missed.
        let since = self.synced_until - 2 * self.sync_interval.as_millis() as i64 - 1000;
        let started = now_ms();
        let db = self.db.clone();
        async move {
            token::Entity::find()
                .filter(token::Column::UpdatedAt.gte(since))
                .all(&db)
                .await
        }
        .into_actor(self)
        .map(move |res, act, _| {
            act.syncing = false;
            match res {
                Ok(rows) => {
                    act.synced_until = started;
                    for row in rows {
                        if act.tokens.contains_key(&row.token_hash) {
                            act.store_row(&row);
                        }
                    }
                }
                Err(e) => log::warn!("token sync failed: {e}"),
            }
            let ttl = act.negative_ttl;
            act.unknown.retain(|_, t| t.elapsed() < ttl);
        })
        .spawn(ctx);
    }
}

impl Actor for UsageLedger {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.sync_interval, |act, ctx| act.sync(ctx));
    }
}

/// Looks a token up by the SHA-256 of its plaintext: memory first, then the database.
#[derive(Message)]
#[rtype(result = "Result<Arc<TokenInfo>, ApiError>")]
pub struct Authenticate {
    pub token_hash: String,
}

impl Handler<Authenticate> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<Arc<TokenInfo>, ApiError>>;

    fn handle(&mut self, msg: Authenticate, _: &mut Context<Self>) -> Self::Result {
        if let Some(info) = self.tokens.get(&msg.token_hash) {
            return Box::pin(fut::ready(Ok(info.clone())));
        }
        if let Some(seen) = self.unknown.get(&msg.token_hash) {
            if seen.elapsed() < self.negative_ttl {
                return Box::pin(fut::ready(Err(ApiError::InvalidToken)));
            }
        }
        let db = self.db.clone();
        let hash = msg.token_hash;
        Box::pin(
            {
                let hash = hash.clone();
                async move { store::find_by_hash(&db, &hash).await }
            }
            .into_actor(self)
            .map(move |res, act, _| match res {
                Ok(Some(row)) => {
                    act.store_row(&row);
                    Ok(act.tokens[&hash].clone())
                }
                Ok(None) => {
                    if act.unknown.len() > 100_000 {
                        act.unknown.clear();
                    }
                    act.unknown.insert(hash, Instant::now());
                    Err(ApiError::InvalidToken)
                }
                Err(e) => Err(ApiError::internal("cannot look up token", e)),
            }),
        )
    }
}

/// Drops a token from memory after the admin API changed it, so the next call reloads it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Forget {
    pub token_hash: String,
}

impl Handler<Forget> for UsageLedger {
    type Result = ();

    fn handle(&mut self, msg: Forget, _: &mut Context<Self>) {
        self.tokens.remove(&msg.token_hash);
    }
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
            max_tokens: None,
            max_amount_nano: None,
            expires_at: None,
            enabled: true,
            rpm: None,
            tpm: None,
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
