//! Authentication as actix extractors: a handler that takes `ClientAuth` or `AdminAuth`
//! cannot run for a caller who is not one.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use serde_json::Value;

use super::bearer::{authenticate, presented_token};
use super::request_id::request_id;
use crate::accounting::token::TokenInfo;
use crate::actors::admin_gate::CheckSession;
use crate::actors::log_sink::RecordAudit;
use crate::error::ApiError;
use crate::secrets::{hash_token, SESSION_PREFIX};
use crate::state::AppState;
use crate::store::audit::AuditEntry;

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("no application state", "missing app data"))
}

/// A usable client (or admin) gateway token.
pub struct ClientAuth(pub Arc<TokenInfo>);

impl FromRequest for ClientAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            authenticate(&state, &req).await.map(ClientAuth)
        })
    }
}

/// Who is acting on the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A gateway token with the admin role.
    Token { id: i32 },
    /// An Ed25519 login session.
    Session {
        fingerprint: String,
        token_hash: String,
    },
}

impl Principal {
    /// How the audit trail names the actor: `token:<id>` or `key:<fingerprint>`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Token { id } => format!("token:{id}"),
            Principal::Session { fingerprint, .. } => format!("key:{fingerprint}"),
        }
    }
}

/// An admin: an admin token or a live admin session. A client token gets 403.
pub struct AdminAuth {
    pub principal: Principal,
    state: web::Data<AppState>,
    request_id: Arc<str>,
}

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let presented = presented_token(&req).map(str::to_string);
            let principal = match presented {
                Some(token) if token.starts_with(SESSION_PREFIX) => {
                    let token_hash = hash_token(&token);
                    let fingerprint = state
                        .gate
                        .send(CheckSession {
                            token_hash: token_hash.clone(),
                        })
                        .await
                        .map_err(|e| ApiError::internal("admin gate unavailable", e))??;
                    match fingerprint {
                        Some(fingerprint) => Principal::Session {
                            fingerprint,
                            token_hash,
                        },
                        None => {
                            state.accounts.count_rejected();
                            return Err(ApiError::InvalidToken);
                        }
                    }
                }
                _ => {
                    let token = authenticate(&state, &req).await?;
                    if !token.is_admin() {
                        return Err(ApiError::PermissionDenied(
                            "this route needs an admin token or session".into(),
                        ));
                    }
                    Principal::Token { id: token.id }
                }
            };
            Ok(AdminAuth {
                principal,
                request_id: request_id(&req),
                state,
            })
        })
    }
}

impl AdminAuth {
    /// Records a change in the audit trail. `before`/`after` are admin views, which never
    /// hold secrets. The change has already happened: a failed audit write is logged and
    /// counted, not turned into an error for a change that stands.
    pub async fn audit(
        &self,
        action: &'static str,
        resource: impl Into<String>,
        before: Option<Value>,
        after: Option<Value>,
    ) {
        let entry = AuditEntry {
            actor: self.principal.actor(),
            action,
            resource: resource.into(),
            before,
            after,
            request_id: self.request_id.to_string(),
        };
        let result = self.state.logs.send(RecordAudit(entry)).await;
        if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r) {
            ::metrics::counter!("gateway_database_errors_total").increment(1);
            log::error!("{} audit write failed: {e}", self.request_id);
        }
    }

    /// Serializes a view for the audit trail.
    pub fn snapshot<T: serde::Serialize>(view: &T) -> Option<Value> {
        serde_json::to_value(view).ok()
    }
}
