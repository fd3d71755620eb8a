//! `/auth/*`: the Ed25519 challenge-response login (contract section 6).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin::mailbox;
use super::body::json_body;
use super::extract::{AdminAuth, Principal};
use super::request_id::request_id;
use crate::actors::admin_gate::{IssueChallenge, Logout, Verify};
use crate::actors::log_sink::RecordAudit;
use crate::error::ApiError;
use crate::handlers::schemas::ErrorBody;
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::time::to_rfc3339;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// Hex SHA-256 of the 32-byte Ed25519 public key.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub fingerprint: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChallengeResponse {
    pub challenge_id: String,
    /// Base64 of 32 random bytes; sign `gateway-zero-login:v1:{challenge_id}:{nonce}`.
    pub nonce: String,
    /// RFC 3339.
    pub expires_at: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub challenge_id: String,
    pub fingerprint: String,
    /// Base64 Ed25519 signature of the login message.
    pub signature: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// Bearer for the admin API until it expires or is logged out.
    pub session_token: String,
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct LogoutResponse {
    pub revoked: bool,
}

/// The client's address: the TCP peer, or behind a trusted balancer the address it
/// forwarded (`server.trusted_proxies`).
fn client_addr(req: &HttpRequest, state: &AppState) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    Some(state.trusted_proxies.client(peer, forwarded))
}

/// Step 1: a single-use challenge for a key fingerprint.
#[utoipa::path(post, path = "/auth/challenge", tag = "auth",
    request_body = ChallengeRequest,
    responses(
        (status = 200, body = ChallengeResponse, description = "A challenge (also for unknown fingerprints)"),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Too many login attempts"),
    ))]
pub async fn challenge(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: ChallengeRequest = json_body(&state, &req, payload).await?;
    let c = state
        .gate
        .send(IssueChallenge {
            fingerprint: body.fingerprint,
            addr: client_addr(&req, &state),
        })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(ChallengeResponse {
        challenge_id: c.challenge_id,
        nonce: c.nonce,
        expires_at: to_rfc3339(c.expires_at),
    }))
}

/// Step 3: the signed answer; a session token on success.
#[utoipa::path(post, path = "/auth/verify", tag = "auth",
    request_body = VerifyRequest,
    responses(
        (status = 200, body = SessionResponse),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "Unknown, expired or used challenge, unknown key or bad signature"),
        (status = 429, body = ErrorBody),
    ))]
pub async fn verify(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: VerifyRequest = json_body(&state, &req, payload).await?;
    let result = state
        .gate
        .send(Verify {
            challenge_id: body.challenge_id,
            fingerprint: body.fingerprint,
            signature: body.signature,
            addr: client_addr(&req, &state),
        })
        .await
        .map_err(mailbox)?;
    let session = match result {
        Ok(s) => s,
        Err(e) => {
            if e.is_authentication() {
                ::metrics::counter!("gateway_login_failures_total").increment(1);
            }
            return Err(e);
        }
    };
    let login = AuditEntry {
        actor: format!("key:{}", session.fingerprint),
        action: "login",
        resource: "session".into(),
        before: None,
        after: None,
        request_id: request_id(&req).to_string(),
    };
    if let Err(e) = state
        .logs
        .send(RecordAudit(login))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
    {
        log::error!("audit write failed: {e}");
    }
    Ok(HttpResponse::Ok().json(SessionResponse {
        session_token: session.session_token,
        expires_at: to_rfc3339(session.expires_at),
    }))
}

/// Revokes the session presented as Bearer (an admin token has nothing to revoke).
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = LogoutResponse),
        (status = 400, body = ErrorBody, description = "The Bearer is an admin token, not a session"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
pub async fn logout(
    admin: AdminAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Principal::Session { token_hash, .. } = &admin.principal else {
        return Err(ApiError::invalid(
            "logout ends an admin session; this is an admin token (disable it instead)",
        ));
    };
    let revoked = state
        .gate
        .send(Logout {
            token_hash: token_hash.clone(),
        })
        .await
        .map_err(mailbox)??;
    admin.audit("logout", "session", None, None).await;
    Ok(HttpResponse::Ok().json(LogoutResponse { revoked }))
}
