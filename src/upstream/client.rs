//! The upstream HTTP client: one per worker thread, shared by every call on it.

use std::time::Duration;

use crate::settings::UpstreamSettings;

pub fn build(settings: &UpstreamSettings) -> awc::Client {
    let connector = awc::Connector::new()
        .timeout(Duration::from_millis(settings.connect_timeout_ms))
        // No cap on simultaneous connections: a gateway holds many long streams.
        .limit(0)
        .conn_keep_alive(Duration::from_secs(60));
    awc::Client::builder()
        .connector(connector)
        // Per-request timeouts are set on each call (first byte, then the whole call).
        .disable_timeout()
        .disable_redirects()
        .finish()
}
