//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the handlers'
//! `#[utoipa::path]` annotations and the typed request/response structs.
//!
//! The proxied client bodies (chat completions, embeddings, messages) are OpenAI's and
//! Anthropic's own shapes and pass through with fields the gateway does not read; their
//! schemas below name the fields the gateway reads and allow the rest.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::handlers::{admin, auth, chat, compact, messages, models, ops, responses, token};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A gateway token (`gz-…`); on admin routes an admin token or an admin \
                         session (`gzs-…`) from the Ed25519 login",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "x_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Gateway Zero", description = "An OpenAI-compatible LLM API gateway: client API, admin API, Ed25519 login, operations."),
    modifiers(&Security),
    paths(
        ops::health, ops::ready, ops::prometheus, ops::openapi_json,
        chat::chat_completions, chat::embeddings, models::models, ops::hello, ops::hello_head, ops::root, ops::root_head,
        messages::messages, messages::count_tokens,
        responses::create, responses::socket, responses::get, responses::delete, responses::input_items,
        compact::compact,
        token::balance, token::usage,
        auth::challenge, auth::verify, auth::logout,
        admin::providers::list, admin::providers::create, admin::providers::get,
        admin::providers::update, admin::providers::delete,
        admin::provider_keys::list_keys, admin::provider_keys::add_key,
        admin::provider_keys::update_key, admin::provider_keys::delete_key,
        admin::tokens::list, admin::tokens::create, admin::tokens::get,
        admin::tokens::update, admin::tokens::delete,
        admin::teams::list, admin::teams::create, admin::teams::get,
        admin::teams::update, admin::teams::delete,
        admin::redirects::list, admin::redirects::put, admin::redirects::delete,
        admin::prices::list, admin::prices::put, admin::prices::delete,
        admin::price_import::import,
        admin::logs::list, admin::logs::get,
        admin::metrics::summary, admin::metrics::models_distribution, admin::metrics::series,
        admin::end_users::list,
        admin::admin_keys::list, admin::admin_keys::create, admin::admin_keys::delete,
        admin::audit::list,
    ),
    tags(
        (name = "client", description = "OpenAI- and Anthropic-compatible client API"),
        (name = "providers", description = "Upstream providers and their keys (admin)"),
        (name = "admin", description = "Tokens, prices, redirects, logs, metrics, admin keys, audit"),
        (name = "auth", description = "Ed25519 challenge-response login"),
        (name = "ops", description = "Health, readiness, Prometheus, this document"),
    )
)]
pub struct ApiDoc;

/// The document as served. Operation ids are made from method and path (handler names
/// such as `list` repeat across modules, and OpenAPI wants them unique).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for (path, item) in doc.paths.paths.iter_mut() {
        let slug: String = path
            .trim_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let ops = [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("put", item.put.as_mut()),
            ("patch", item.patch.as_mut()),
            ("delete", item.delete.as_mut()),
            ("head", item.head.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            op.operation_id = Some(format!("{method}_{slug}"));
            // OpenAPI requires a description on every response: the reason phrase where
            // the annotation gives none. An event stream is described in words: OpenAPI
            // 3.1 has no schema for a stream's events (3.2's `itemSchema`).
            for (status, response) in op.responses.responses.iter_mut() {
                if let utoipa::openapi::RefOr::T(r) = response {
                    if let Some(utoipa::openapi::RefOr::T(stream)) =
                        r.content.get_mut("text/event-stream")
                    {
                        stream.schema = None;
                    }
                    if r.description.is_empty() {
                        r.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|c| http::StatusCode::from_u16(c).ok())
                            .and_then(|c| c.canonical_reason())
                            .unwrap_or("Response")
                            .to_string();
                    }
                }
            }
        }
    }
    doc
}
