//! Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI document.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::handlers::schemas::ErrorBody;
use crate::secrets::hash_token;
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: String,
}

#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, body = Status, description = "The process serves")))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status {
        status: "ok".into(),
    })
}

/// `GET` / `HEAD /api/hello`: the reachability probe Claude Code sends a gateway before
/// its first call. No credential needed; says nothing but that this is a gateway that
/// serves.
#[utoipa::path(get, path = "/api/hello", tag = "ops",
    responses((status = 200, body = Status, description = "The gateway serves (HEAD: the same, without a body)")))]
pub async fn hello() -> HttpResponse {
    HttpResponse::Ok().json(Status {
        status: "ok".into(),
    })
}

/// `HEAD /api/hello`: the same probe, answered without a body.
#[utoipa::path(head, path = "/api/hello", tag = "ops",
    responses((status = 200, description = "The gateway serves")))]
pub async fn hello_head() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// `GET /`: the base URL answers (Claude Code sends `HEAD` to the base URL it was given
/// before its first call).
#[utoipa::path(get, path = "/", tag = "ops",
    responses((status = 200, body = Status, description = "The gateway serves")))]
pub async fn root() -> HttpResponse {
    hello().await
}

/// `HEAD /`: the same, without a body.
#[utoipa::path(head, path = "/", tag = "ops",
    responses((status = 200, description = "The gateway serves")))]
pub async fn root_head() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// 200 only when the database answers.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses((status = 200, body = Status), (status = 503, body = ErrorBody, description = "The database does not answer")))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let backend = state.db.get_database_backend();
    let ping = state
        .db
        .execute(sea_orm::Statement::from_string(backend, "SELECT 1"))
        .await;
    match ping {
        Ok(_) => Ok(HttpResponse::Ok().json(Status {
            status: "ready".into(),
        })),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            metrics::counter!("gateway_database_errors_total").increment(1);
            Err(ApiError::NoUpstream("database unavailable".into()))
        }
    }
}

/// Prometheus text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, body = ErrorBody, description = "`server.metrics_token` is set and was not presented")))]
pub async fn prometheus(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(expected) = state.settings.server.metrics_token.as_deref() {
        let presented = super::bearer::presented_token(&req).unwrap_or("");
        // Digests compared, so the time taken says nothing of the token's prefix.
        if hash_token(presented) != hash_token(expected) {
            return ApiError::InvalidToken.error_response();
        }
    }
    metrics::gauge!("gateway_log_queue_depth").set(state.log_queue.len() as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::render())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, body = Object, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}
