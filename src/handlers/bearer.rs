//! The caller's gateway token: read from `Authorization: Bearer …` or `x-api-key`, and
//! authenticated against the ledger (known tokens from memory, others looked up once).

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::accounting::token::TokenInfo;
use crate::actors::usage_ledger::Authenticate;
use crate::error::ApiError;
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::time::now_ms;

/// The token from `Authorization: Bearer …` (or `x-api-key`, as Anthropic clients send it).
pub fn presented_token(req: &HttpRequest) -> Option<&str> {
    if let Some(value) = req.headers().get("authorization") {
        let text = value.to_str().ok()?;
        let (scheme, token) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    req.headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A usable (enabled, unexpired) token, or the contract's 401. Known tokens are answered
/// from the ledger's shared state; only unknown ones go to the ledger actor.
///
/// Junk costs nothing durable: an unknown token is remembered as unknown for a few seconds,
/// database look-ups of unknown tokens are rate-limited (past the rate they are answered
/// 401 at once; new tokens still arrive through the cluster sync) and coalesced by the
/// ledger, and 401s are counted instead of logged one row each.
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Arc<TokenInfo>, ApiError> {
    let result = find_token(state, req).await;
    if result.as_ref().is_err_and(ApiError::is_authentication) {
        state.accounts.count_rejected();
    }
    result
}

async fn find_token(state: &AppState, req: &HttpRequest) -> Result<Arc<TokenInfo>, ApiError> {
    let token = presented_token(req).ok_or(ApiError::InvalidToken)?;
    let hash = hash_token(token);
    let now = now_ms();
    let accounts = &state.accounts;
    let info = match accounts.lookup(&hash) {
        Some(info) => info,
        None if accounts.known_unknown(&hash, now) || !accounts.take_lookup_permit() => {
            return Err(ApiError::InvalidToken)
        }
        None => state
            .ledger
            .send(Authenticate { token_hash: hash })
            .await
            .map_err(|e| ApiError::internal("usage ledger unavailable", e))??,
    };
    info.check_usable(now)?;
    Ok(info)
}
