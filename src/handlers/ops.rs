//! Operations routes: liveness and readiness.

use actix_web::{web, HttpResponse};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::state::AppState;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 only when the database answers.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.get_database_backend();
    let ping = state
        .db
        .execute(sea_orm::Statement::from_string(backend, "SELECT 1"))
        .await;
    match ping {
        Ok(_) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable().json(json!({"error": {
                "message": "database unavailable", "type": "upstream_error",
                "code": "database_unavailable", "param": null}}))
        }
    }
}
