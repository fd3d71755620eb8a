//! Builds the actors and the HTTP server, runs until SIGTERM/SIGINT, then drains.

use std::sync::Arc;

use std::time::Duration;

use actix::Actor;
use actix_web::{middleware, web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};

use crate::accounting::ledger::{LedgerConfig, LedgerState};
use crate::accounting::response_quota::ResponseQuota;
use crate::actors::admin_gate::AdminGate;
use crate::actors::log_sink::{Flush, LogQueue, LogSink};
use crate::actors::provider_registry::{ProviderRegistry, Reload, SyncRouting};
use crate::actors::response_store::ResponseStore;
use crate::actors::usage_ledger::{price_book, ReturnLeases, SyncTokens, UsageLedger};
use crate::error::ApiError;
use crate::handlers::{
    admin, auth, chat, compact, console, messages, models, ops, request_id, responses, token,
};
use crate::routing::table::{RoutingTable, SharedRouting};
use crate::secrets::MasterKey;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::changes::{self, Change};
use crate::{bootstrap, db, openapi, store, telemetry, upstream};

pub async fn serve(settings: Settings) -> Result<(), String> {
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    let master = MasterKey::load(&settings)?;
    db::with_startup_lock(&db, || bootstrap::run(&settings, &db, &master)).await?;

    let sync = Duration::from_millis(settings.cluster.sync_interval_ms.max(50));
    let accounting = &settings.accounting;
    // The actors live on the main thread; the request path only sends the sink one
    // message per call. (An extra arbiter would be stopped by the server's signal handling
    // before the final flush.)
    let log_queue = LogQueue::new(accounting.batch_size);
    let logs = LogSink::new(
        db.clone(),
        log_queue.clone(),
        Duration::from_millis(accounting.flush_interval_ms.max(10)),
        accounting.enabled,
        settings.logging.clone(),
    )
    .start();
    log_queue.attach(&logs);
    let prices = store::prices::load(&db)
        .await
        .map_err(|e| format!("cannot load prices: {e}"))?;
    let accounts = Arc::new(LedgerState::new(
        LedgerConfig {
            enabled: accounting.enabled,
            missing_price: settings.pricing.missing_price,
            negative_cache_ms: settings.auth.negative_cache_secs.saturating_mul(1000) as i64,
            lookups_per_sec: settings.auth.unknown_token_lookups_per_sec.max(1),
            default_completion_tokens: accounting.default_completion_tokens,
            time_zone: crate::accounting::period::time_zone(&settings.budgets.timezone)?,
            alert_thresholds: if settings.alerts.webhook_url.is_some() {
                settings.alerts.thresholds.clone()
            } else {
                Vec::new()
            },
        },
        price_book(&prices),
    ));
    let leases = settings
        .shares_limits()
        .then(|| settings.cluster.lease_ttl_ms());
    let ledger = UsageLedger::new(db.clone(), accounts.clone(), prices, sync, leases).start();
    let routing: SharedRouting = Arc::new(arc_swap::ArcSwap::from_pointee(RoutingTable::default()));
    let response_quota = Arc::new(ResponseQuota::new(
        db.clone(),
        settings.responses.max_stored_bytes_per_token,
    ));
    let responses = ResponseStore::new(
        db.clone(),
        master.clone(),
        settings.responses.clone(),
        response_quota.clone(),
    )
    .start();
    let registry = ProviderRegistry::new(
        db.clone(),
        master,
        settings.routing.clone(),
        sync,
        routing.clone(),
    )
    .start();
    registry
        .send(Reload)
        .await
        .map_err(|e| format!("registry failed to start: {e}"))?
        .map_err(|e| format!("cannot load providers: {e}"))?;

    let gate = AdminGate::new(db.clone(), settings.auth.clone()).start();
    let shared = settings.shares_limits().then(|| {
        crate::accounting::shared::SharedLimits::new(db.clone(), settings.cluster.lease_ttl_ms())
    });
    let upstream_config = upstream::http::HttpConfig::load(&settings.upstream)?;
    let tracing = crate::traces::Tracing::start(&settings.telemetry, &upstream_config)?;
    if let Some(url) = &settings.telemetry.otlp_endpoint {
        log::info!(
            "traces: exporting to {} (sample ratio {})",
            redact_url(url),
            settings.telemetry.sample_ratio
        );
    }
    let state = AppState {
        tracing,
        settings: Arc::new(settings.clone()),
        shared,
        db,
        registry,
        routing,
        ledger,
        accounts,
        logs: logs.clone(),
        log_queue,
        gate,
        responses,
        response_quota,
        trusted_proxies: Arc::new(crate::client_ip::TrustedProxies::parse(
            &settings.server.trusted_proxies,
        )?),
    };
    telemetry::install()?;
    // Histogram samples wait in the exporter until upkeep buckets them.
    actix::spawn(async {
        loop {
            actix_web::rt::time::sleep(std::time::Duration::from_secs(5)).await;
            telemetry::upkeep();
        }
    });
    let feed = (settings.cluster.listen && !settings.is_sqlite()).then(|| {
        let (registry, ledger) = (state.registry.clone(), state.ledger.clone());
        actix::spawn(changes::listen(
            settings.database.url.clone(),
            move |change| {
                if change != Some(Change::Accounts) {
                    registry.do_send(SyncRouting);
                }
                if change != Some(Change::Routing) {
                    ledger.do_send(SyncTokens);
                }
            },
        ))
    });
    let doc = web::Data::new(openapi::document());
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let app_state = state.clone();
    if let (Some(url), Some(secret)) = (
        &settings.alerts.webhook_url,
        &settings.alerts.webhook_secret,
    ) {
        crate::actors::budget_alerts::BudgetAlerts::new(
            app_state.db.clone(),
            app_state.accounts.clone(),
            upstream::http::UpstreamHttp::new(&upstream_config),
            url.clone(),
            secret.clone(),
        )
        .start();
    }
    let server = HttpServer::new(move || {
        let state = app_state.clone();
        let upstream_client = upstream::http::UpstreamHttp::new(&upstream_config);
        let cors = cors(&state.settings.server.cors_allowed_origins);
        App::new()
            .app_data(web::Data::new(upstream_client))
            .app_data(web::Data::new(state))
            .app_data(doc.clone())
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::invalid(format!("invalid query: {e}")).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::NotFound(format!("invalid path: {e}")).into()),
            )
            .wrap(middleware::from_fn(request_id::request_ids))
            .wrap(middleware::Condition::new(
                cors.is_some(),
                cors.unwrap_or_default(),
            ))
            .configure(routes)
            .configure(console::routes)
    })
    .workers(workers)
    // Stream chunks must leave at once, not wait for the previous segment's ACK.
    .tcp_nodelay(true)
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .bind((settings.server.host.as_str(), settings.server.port))
    .map_err(|e| {
        format!(
            "cannot listen on {}:{}: {e}",
            settings.server.host, settings.server.port
        )
    })?;
    for addr in server.addrs() {
        log::info!("listening on http://{addr}");
    }
    log::info!(
        "database: {}; create the first admin credential with: gateway-zero token create --admin --name root",
        redact_url(&settings.database.url)
    );
    server
        .run()
        .await
        .map_err(|e| format!("server error: {e}"))?;
    // Every call that ended has settled and sent its row to the sink before the server
    // stopped, so one flush writes them all.
    log::info!("server stopped; writing pending usage and request logs");
    logs.send(Flush)
        .await
        .map_err(|e| format!("log sink gone at shutdown: {e}"))??;
    if let Err(e) = state.ledger.send(ReturnLeases).await {
        log::warn!("cannot return budget leases: {e}");
    }
    if let Some(tracing) = state.tracing.clone() {
        // The flush waits on the exporter's thread: off this runtime.
        let _ = actix_web::rt::task::spawn_blocking(move || tracing.flush()).await;
    }
    // The listener's connection must close inside the runtime (sqlx spawns its close).
    if let Some(feed) = feed {
        feed.abort();
        let _ = feed.await;
    }
    log::info!("shutdown complete");
    Ok(())
}

fn cors(origins: &[String]) -> Option<actix_cors::Cors> {
    if origins.is_empty() {
        return None;
    }
    let base = actix_cors::Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers(["x-request-id"])
        .max_age(3600);
    Some(if origins.iter().any(|o| o == "*") {
        base.allow_any_origin()
    } else {
        origins
            .iter()
            .fold(base, |cors, origin| cors.allowed_origin(origin))
    })
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())).error_response()
}

/// 405 with the `Allow` header RFC 9110 asks for.
async fn method_not_allowed(allow: String) -> HttpResponse {
    let mut response = ApiError::MethodNotAllowed.error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// Declares the route table once: `SERVED` (what the OpenAPI coverage test compares with
/// the document) and `routes` (what actix serves) come from the same lines. Every resource
/// answers 405 to a method it does not serve.
macro_rules! route_table {
    ($( $path:literal => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every (method, path) the server answers, paths as in OpenAPI (`{name}`).
        pub const SERVED: &[(&str, &str)] = &[ $( $( (stringify!($method), $path) ),+ ),* ];

        /// Every route of the contract, grouped by API.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            $(
                let allow: Vec<String> = vec![$( stringify!($method).to_uppercase() ),+];
                let allow = allow.join(", ");
                cfg.service(
                    web::resource($path)
                        $( .route(web::$method().to($handler)) )+
                        .default_service(web::to(move || method_not_allowed(allow.clone()))),
                );
            )*
            // The API docs page (Swagger UI, served from the crate): not part of the API.
            cfg.service(web::redirect("/docs", "/docs/"));
            cfg.service(
                utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url("/docs/openapi.json", openapi::document()),
            );
            cfg.default_service(web::to(not_found));
        }
    };
}

route_table! {
    // ops
    "/health" => { get: ops::health },
    "/ready" => { get: ops::ready },
    "/metrics" => { get: ops::prometheus },
    "/openapi.json" => { get: ops::openapi_json },
    // client
    "/v1/chat/completions" => { post: chat::chat_completions },
    "/v1/embeddings" => { post: chat::embeddings },
    "/v1/messages" => { post: messages::messages },
    "/v1/messages/count_tokens" => { post: messages::count_tokens },
    "/v1/responses" => { post: responses::create, get: responses::socket },
    "/v1/responses/compact" => { post: compact::compact },
    "/v1/responses/{id}" => { get: responses::get, delete: responses::delete },
    "/v1/responses/{id}/input_items" => { get: responses::input_items },
    "/v1/models" => { get: models::models },
    "/api/hello" => { get: ops::hello, head: ops::hello_head },
    "/" => { get: ops::root, head: ops::root_head },
    "/v1/token/balance" => { get: token::balance },
    "/v1/token/usage" => { get: token::usage },
    // auth
    "/auth/challenge" => { post: auth::challenge },
    "/auth/verify" => { post: auth::verify },
    "/auth/logout" => { post: auth::logout },
    // admin: providers and keys
    "/providers" => { get: admin::providers::list, post: admin::providers::create },
    "/providers/{name}" => {
        get: admin::providers::get, patch: admin::providers::update, delete: admin::providers::delete,
    },
    "/providers/{name}/keys" => { get: admin::provider_keys::list_keys, post: admin::provider_keys::add_key },
    "/providers/{name}/keys/{id}" => {
        patch: admin::provider_keys::update_key, delete: admin::provider_keys::delete_key,
    },
    // admin: the rest
    "/admin/model-redirects" => {
        get: admin::redirects::list, put: admin::redirects::put, delete: admin::redirects::delete,
    },
    "/admin/tokens" => { get: admin::tokens::list, post: admin::tokens::create },
    "/admin/tokens/{id}" => {
        get: admin::tokens::get, patch: admin::tokens::update, delete: admin::tokens::delete,
    },
    "/admin/teams" => { get: admin::teams::list, post: admin::teams::create },
    "/admin/teams/{id}" => {
        get: admin::teams::get, patch: admin::teams::update, delete: admin::teams::delete,
    },
    "/admin/model-prices" => {
        get: admin::prices::list, put: admin::prices::put, delete: admin::prices::delete,
    },
    "/admin/model-prices/import" => { post: admin::price_import::import },
    "/admin/logs/requests" => { get: admin::logs::list },
    "/admin/logs/requests/{id}" => { get: admin::logs::get },
    "/admin/metrics/summary" => { get: admin::metrics::summary },
    "/admin/metrics/models-distribution" => { get: admin::metrics::models_distribution },
    "/admin/metrics/series" => { get: admin::metrics::series },
    "/admin/metrics/end-users" => { get: admin::end_users::list },
    "/admin/admin-keys" => { get: admin::admin_keys::list, post: admin::admin_keys::create },
    "/admin/admin-keys/{fingerprint}" => { delete: admin::admin_keys::delete },
    "/admin/audit" => { get: admin::audit::list },
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every served route is documented and every documented route is served.
    #[test]
    fn openapi_matches_the_route_table() {
        let doc = crate::openapi::document();
        let mut documented = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("put", item.put.is_some()),
                ("patch", item.patch.is_some()),
                ("delete", item.delete.is_some()),
                ("head", item.head.is_some()),
            ];
            for (method, present) in ops {
                if present {
                    documented.insert((method.to_string(), path.clone()));
                }
            }
        }
        let served: BTreeSet<(String, String)> = super::SERVED
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "served but not documented: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            super::redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            super::redact_url("sqlite://data/gateway.db?mode=rwc"),
            "sqlite://data/gateway.db?mode=rwc"
        );
    }
}
