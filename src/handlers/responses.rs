//! OpenAI's Responses API (`/v1/responses`): created through the same call flow as chat
//! (any provider type, same routing, budgets and logs); stored responses read, deleted and
//! their input items listed by the token that made them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::admin::mailbox;
use super::call_flow::handle;
use super::extract::ClientAuth;
use super::schemas::{self as openapi, ErrorBody};
use crate::actors::response_store::{response_not_found, Delete, Load};
use crate::core::endpoint::Endpoint;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::http::UpstreamHttp;

/// `POST /v1/responses`
#[utoipa::path(post, path = "/v1/responses", tag = "client", security(("bearer" = [])),
    request_body = openapi::ResponsesRequest,
    responses(
        (status = 200, description = "A response object, or with `stream: true` server-sent \
            events (`response.created` … `response.completed`, each with `sequence_number`)",
            content((openapi::Response = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    handle(Endpoint::Responses, req, payload, state, client).await
}

/// `GET /v1/responses` with `Upgrade: websocket`: the Responses API over a WebSocket (see
/// `responses_socket`).
#[utoipa::path(get, path = "/v1/responses", tag = "client", security(("bearer" = [])),
    responses(
        (status = 101, description = "Switched to a WebSocket: each `{\"type\": \"response.create\", …}` text message is one call, answered with the stream's events as JSON text messages"),
        (status = 400, body = ErrorBody, description = "Not a WebSocket upgrade"),
        (status = 401, body = ErrorBody),
    ))]
pub async fn socket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<UpstreamHttp>,
) -> HttpResponse {
    super::responses_socket::open(req, payload, state, client).await
}

async fn load(
    state: &AppState,
    auth: &ClientAuth,
    id: String,
) -> Result<std::sync::Arc<crate::store::responses::StoredResponse>, ApiError> {
    state
        .responses
        .send(Load {
            id: id.clone(),
            token_id: auth.0.id,
        })
        .await
        .map_err(mailbox)??
        .ok_or_else(|| response_not_found(&id))
}

/// `GET /v1/responses/{id}`: a stored response of this token.
#[utoipa::path(get, path = "/v1/responses/{id}", tag = "client", security(("bearer" = [])),
    params(("id" = String, Path, description = "The response's id")),
    responses((status = 200, body = openapi::Response), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get(
    auth: ClientAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stored = load(&state, &auth, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(stored.response.clone()))
}

/// `DELETE /v1/responses/{id}`
#[utoipa::path(delete, path = "/v1/responses/{id}", tag = "client", security(("bearer" = [])),
    params(("id" = String, Path, description = "The response's id")),
    responses((status = 200, body = openapi::ResponseDeleted), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete(
    auth: ClientAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deleted = state
        .responses
        .send(Delete {
            id: id.clone(),
            token_id: auth.0.id,
        })
        .await
        .map_err(mailbox)??;
    if !deleted {
        return Err(response_not_found(&id));
    }
    Ok(HttpResponse::Ok().json(json!({"id": id, "object": "response", "deleted": true})))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// 1..=100, default 20.
    pub limit: Option<usize>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
    /// List items after this item id.
    pub after: Option<String>,
}

/// `GET /v1/responses/{id}/input_items`: the input items the response was created from
/// (this call's own items; a continued conversation's earlier items are listed by the
/// earlier responses).
#[utoipa::path(get, path = "/v1/responses/{id}/input_items", tag = "client", security(("bearer" = [])),
    params(("id" = String, Path, description = "The response's id"), ItemsQuery),
    responses((status = 200, body = openapi::InputItems), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn input_items(
    auth: ClientAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ItemsQuery>,
) -> Result<HttpResponse, ApiError> {
    let stored = load(&state, &auth, id.into_inner()).await?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_param(
            "limit",
            "'limit' must be from 1 to 100",
        ));
    }
    let input = stored.input_items();
    let mut items: Vec<&serde_json::Value> = input.iter().collect();
    match query.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(_) => {
            return Err(ApiError::invalid_param(
                "order",
                "'order' must be asc or desc",
            ))
        }
    }
    if let Some(after) = &query.after {
        let at = items
            .iter()
            .position(|i| i["id"].as_str() == Some(after.as_str()))
            .ok_or_else(|| {
                ApiError::invalid_param("after", "'after' names no item of this response")
            })?;
        items.drain(..=at);
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    let id_of =
        |i: Option<&&serde_json::Value>| i.and_then(|i| i["id"].as_str()).map(str::to_string);
    Ok(HttpResponse::Ok().json(json!({
        "object": "list",
        "first_id": id_of(items.first()),
        "last_id": id_of(items.last()),
        "has_more": has_more,
        "data": items,
    })))
}
