//! The web console (`/console/`): files compiled into the binary — a page, its scripts
//! (one per page that outgrew the first) and a style sheet, no framework, no build step — served with a strict
//! Content-Security-Policy (scripts and styles from this origin only, no inline script, no
//! framing). The console is a client of the admin API: it holds no logic of its own, and
//! costs the proxy path nothing (routes that nobody calls until someone opens it).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::error::ApiError;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("console.js");
const TEAMS: &str = include_str!("teams.js");
const STYLE: &str = include_str!("console.css");

/// Only this origin's script and style; fetches to this origin; no plugins, frames, forms
/// posting elsewhere or `<base>` tricks.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /console` → `/console/`.
async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX)
}

async fn file(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match name.as_str() {
        "console.js" => Ok(asset("text/javascript; charset=utf-8", SCRIPT)),
        "teams.js" => Ok(asset("text/javascript; charset=utf-8", TEAMS)),
        "console.css" => Ok(asset("text/css; charset=utf-8", STYLE)),
        "" | "index.html" => Ok(asset("text/html; charset=utf-8", INDEX)),
        other => Err(ApiError::NotFound(format!(
            "no console file '{}'",
            crate::core::text::truncate(other, 60)
        ))),
    }
}

/// The console's routes (not part of the API document).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(redirect))
        .route("/console/", web::get().to(index))
        .route("/console/{file}", web::get().to(file));
}
