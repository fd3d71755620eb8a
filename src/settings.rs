//! Layered settings (contract section 2), loaded with the `config` crate.

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::core::strategy::Strategy;

const DEFAULT_TOML: &str = include_str!("../settings/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub routing: RoutingSettings,
    pub upstream: UpstreamSettings,
    pub auth: AuthSettings,
    pub security: SecuritySettings,
    pub cluster: ClusterSettings,
    pub accounting: AccountingSettings,
    pub pricing: PricingSettings,
    pub logging: LoggingSettings,
    pub responses: ResponsesSettings,
    pub budgets: BudgetSettings,
    pub alerts: AlertSettings,
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub providers: Vec<ProviderSeed>,
}

/// Budget periods.
#[derive(Debug, Clone, Deserialize)]
pub struct BudgetSettings {
    /// IANA time zone of the calendar periods.
    pub timezone: String,
}

/// Budget alerts.
#[derive(Debug, Clone, Deserialize)]
pub struct AlertSettings {
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    pub thresholds: Vec<f64>,
}

/// Stored Responses-API responses.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponsesSettings {
    /// Stored responses older than this many days are deleted.
    pub retention_days: u32,
    /// Most stored responses one `previous_response_id` chain loads.
    pub max_chain_responses: usize,
    /// Most bytes of stored items one chain loads.
    pub max_chain_bytes: usize,
    /// Most bytes a token's stored responses may take (as stored, encrypted); 0: no quota.
    pub max_stored_bytes_per_token: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    pub cors_allowed_origins: Vec<String>,
    /// Load balancers whose `X-Forwarded-For` names the client (addresses or CIDRs).
    pub trusted_proxies: Vec<String>,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// A Responses WebSocket with no message for this long is closed.
    pub websocket_idle_secs: u64,
    /// When set, `GET /metrics` requires it as a Bearer token.
    #[serde(default)]
    pub metrics_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoutingSettings {
    pub provider_strategy: Strategy,
    pub key_strategy: Strategy,
    pub max_attempts: u32,
    pub cooldown_secs: u64,
    /// Consecutive failures (5xx, timeouts, connection errors) that cool a key down.
    pub failure_threshold: u32,
    /// How long a key whose account is out of quota is benched.
    pub quota_cooldown_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamSettings {
    pub connect_timeout_ms: u64,
    pub first_byte_timeout_secs: u64,
    /// A translated stream to an Anthropic client sends a `ping` event after this many
    /// seconds of upstream silence (Claude Code has an idle watchdog).
    pub stream_ping_secs: u64,
    pub request_timeout_secs: u64,
    pub max_response_bytes: usize,
    /// Longest SSE line accepted from a streaming upstream before the stream is ended.
    pub max_sse_line_bytes: usize,
    /// PEM bundle trusted in addition to the web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Also trust the operating system's certificate store.
    #[serde(default)]
    pub native_roots: bool,
    /// `http://[user:pass@]host:port`; unset: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Hosts reached directly despite `proxy` (comma-separated, `NO_PROXY` syntax).
    #[serde(default)]
    pub no_proxy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub bootstrap_admin_token: Option<String>,
    pub admin_key_path: PathBuf,
    pub challenge_ttl_secs: u64,
    pub session_ttl_secs: u64,
    pub negative_cache_secs: u64,
    /// Database look-ups of unknown tokens allowed per second (the rest answer 401 at once).
    pub unknown_token_lookups_per_sec: u32,
    pub login_attempts_per_minute_per_key: u32,
    pub login_attempts_per_minute_per_address: u32,
}

/// Traces (OpenTelemetry GenAI spans over OTLP/HTTP protobuf); off while `otlp_endpoint`
/// is unset.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// The collector's traces URL, used as written (`http://collector:4318/v1/traces`).
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
    /// Fraction of new traces recorded (a client's sampled flag decides for its own).
    pub sample_ratio: f64,
    /// Sent with every export (a vendor's API key, say); never logged.
    #[serde(default)]
    pub headers: std::collections::HashMap<String, String>,
    /// Prompt and completion content on spans (`gen_ai.input.messages`, ...), cut at
    /// `max_content_bytes` each.
    pub capture_content: bool,
    pub max_content_bytes: usize,
    /// Finished spans waiting for export at most; past it spans are dropped and counted.
    pub max_queue_spans: usize,
    pub export_batch_spans: usize,
    pub export_interval_ms: u64,
    pub export_timeout_ms: u64,
    /// The console's link from a log row to its trace: `{trace_id}` is replaced.
    pub trace_url_template: Option<String>,
}

impl TelemetrySettings {
    fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.otlp_endpoint {
            let parsed = url::Url::parse(url)
                .map_err(|e| format!("telemetry.otlp_endpoint is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err("telemetry.otlp_endpoint must be http or https".into());
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err("telemetry.sample_ratio must be 0..=1".into());
        }
        if self.service_name.trim().is_empty() {
            return Err("telemetry.service_name must not be empty".into());
        }
        if !(1..=1_000_000).contains(&self.max_queue_spans) {
            return Err("telemetry.max_queue_spans must be 1..=1000000".into());
        }
        if !(1..=10_000).contains(&self.export_batch_spans) {
            return Err("telemetry.export_batch_spans must be 1..=10000".into());
        }
        if !(1..=60_000).contains(&self.export_interval_ms)
            || !(1..=600_000).contains(&self.export_timeout_ms)
        {
            return Err(
                "telemetry.export_interval_ms must be 1..=60000, export_timeout_ms 1..=600000"
                    .into(),
            );
        }
        if !(64..=1_048_576).contains(&self.max_content_bytes) {
            return Err("telemetry.max_content_bytes must be 64..=1048576".into());
        }
        for (name, value) in &self.headers {
            let bad_name = http::HeaderName::from_bytes(name.as_bytes()).is_err();
            if bad_name || http::HeaderValue::from_str(value).is_err() {
                return Err(format!("telemetry.headers: {name:?} is not a valid header"));
            }
        }
        if let Some(t) = &self.trace_url_template {
            let parsed = url::Url::parse(&t.replace("{trace_id}", "0"))
                .map_err(|e| format!("telemetry.trace_url_template is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || !t.contains("{trace_id}") {
                return Err(
                    "telemetry.trace_url_template must be an http(s) URL holding {trace_id}".into(),
                );
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LoggingSettings {
    /// 0: keep request logs forever.
    pub retention_days: u32,
    pub retention_interval_secs: u64,
    pub retention_batch_rows: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecuritySettings {
    pub master_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClusterSettings {
    pub sync_interval_ms: u64,
    /// Postgres: budgeted calls draw on a lease of the budget held in the database (one
    /// conditional UPDATE per many calls) and rate-limited ones count in a shared minute,
    /// so budgets and rate limits hold across instances.
    pub shared_limits: bool,
    /// Postgres: listen for other instances' change announcements (`LISTEN/NOTIFY`) and
    /// sync at once; polling every `sync_interval_ms` stays the fallback.
    pub listen: bool,
    /// How long a budget lease outlives its instance's last renewal (renewed every sync
    /// tick): what an instance killed with `kill -9` keeps from the others, for that long.
    pub lease_ttl_secs: u64,
}

impl ClusterSettings {
    /// The lease TTL in ms, at least five sync intervals (it is renewed on each).
    pub fn lease_ttl_ms(&self) -> i64 {
        let ttl = self.lease_ttl_secs.saturating_mul(1000);
        ttl.max(self.sync_interval_ms.saturating_mul(5))
            .min(i64::MAX as u64) as i64
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountingSettings {
    pub enabled: bool,
    pub flush_interval_ms: u64,
    pub batch_size: usize,
    pub default_completion_tokens: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingPrice {
    /// Bill nothing and log a warning.
    Zero,
    /// Refuse calls to unpriced models (403).
    Refuse,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PricingSettings {
    pub missing_price: MissingPrice,
}

/// A provider declared in settings; upserted by name at start.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderSeed {
    pub name: String,
    pub api_type: String,
    pub base_url: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    pub models: Option<Vec<String>>,
    pub weight: Option<i32>,
    pub enabled: Option<bool>,
    /// How `/v1/responses` reaches an OpenAI-type provider: `native` (passed through) or
    /// `chat` (translated to Chat Completions); default native for api.openai.com.
    pub responses: Option<String>,
}

impl Settings {
    /// Loads the layers in contract order. `explicit` is `--config PATH`; when absent,
    /// `GATEWAY_CONFIG` is used.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, String> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::with_name("settings/default.toml").required(false))
            .add_source(File::with_name("settings/local.toml").required(false));
        let extra = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("GATEWAY_CONFIG").map(PathBuf::from));
        if let Some(path) = extra {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            builder = builder.add_source(File::from(path));
        }
        builder = builder.add_source(
            Environment::with_prefix("GATEWAY")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("server.cors_allowed_origins")
                .with_list_parse_key("server.trusted_proxies")
                .with_list_parse_key("alerts.thresholds"),
        );
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| format!("invalid settings: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        if !self.budgets.timezone.eq_ignore_ascii_case("utc") {
            jiff::tz::TimeZone::get(&self.budgets.timezone).map_err(|e| {
                format!(
                    "budgets.timezone {:?} is not a time zone: {e}",
                    self.budgets.timezone
                )
            })?;
        }
        let t = &self.alerts.thresholds;
        if t.len() > 32 || t.iter().any(|x| !x.is_finite() || *x <= 0.0 || *x > 10.0) {
            return Err(
                "alerts.thresholds must be at most 32 fractions, each above 0 and at most 10"
                    .into(),
            );
        }
        if let Some(url) = &self.alerts.webhook_url {
            let parsed = url::Url::parse(url)
                .map_err(|e| format!("alerts.webhook_url is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err("alerts.webhook_url must be http or https".into());
            }
            if self
                .alerts
                .webhook_secret
                .as_deref()
                .is_none_or(|s| s.is_empty())
            {
                return Err(
                    "alerts.webhook_url is set without alerts.webhook_secret: receivers could not \
                     tell our events from forgeries"
                        .into(),
                );
            }
        }
        if self.routing.max_attempts == 0 {
            return Err("routing.max_attempts must be at least 1".into());
        }
        crate::client_ip::TrustedProxies::parse(&self.server.trusted_proxies)?;
        if self.server.max_body_bytes == 0 {
            return Err("server.max_body_bytes must be positive".into());
        }
        if !(1..=100_000).contains(&self.accounting.batch_size) {
            return Err("accounting.batch_size must be 1..=100000".into());
        }
        if !(1..=10_000_000).contains(&self.accounting.default_completion_tokens) {
            return Err("accounting.default_completion_tokens must be 1..=10000000".into());
        }
        if !(1..=86_400).contains(&self.server.websocket_idle_secs) {
            return Err("server.websocket_idle_secs must be 1..=86400".into());
        }
        if !(1..=60).contains(&self.upstream.stream_ping_secs) {
            return Err("upstream.stream_ping_secs must be 1..=60".into());
        }
        if self.upstream.max_sse_line_bytes < 1024 {
            return Err("upstream.max_sse_line_bytes must be at least 1024".into());
        }
        if self
            .server
            .metrics_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(
                "server.metrics_token is empty: set a token, or leave the key out for an open /metrics"
                    .into(),
            );
        }
        if self.routing.failure_threshold == 0 {
            return Err("routing.failure_threshold must be at least 1".into());
        }
        self.telemetry.validate()
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }

    /// Whether budgets and rate limits are shared through the database (Postgres with
    /// `cluster.shared_limits`).
    pub fn shares_limits(&self) -> bool {
        self.cluster.shared_limits && !self.is_sqlite()
    }
}
