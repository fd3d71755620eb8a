//! The terminal admin's command line: `gateway-zero admin <resource> <verb> …` as clap
//! types. `admin.rs` turns each into one REST call.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The gateway's URL (default: the saved session's, else server.host:server.port).
    #[arg(long, global = true, env = "GATEWAY_ADMIN_URL")]
    pub url: Option<String>,
    /// An admin token or session to use instead of the saved session (prefer the
    /// environment variable or `--token-stdin`: a command line is visible to every user of
    /// the machine).
    #[arg(
        long,
        global = true,
        env = "GATEWAY_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Read the admin token or session from the first line of standard input (keeps it out
    /// of the process list and the shell's history, unlike `--token`).
    #[arg(long, global = true, conflicts_with = "token")]
    pub token_stdin: bool,
    /// Where `admin login` saves the session (mode 0600).
    #[arg(long, global = true, value_name = "PATH")]
    pub session_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Log in with the Ed25519 key; prints the session token and saves it.
    Login {
        /// The Ed25519 key file (base64 seed; default auth.admin_key_path).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Revoke the saved session and delete the session file.
    Logout,
    /// Upstream providers.
    #[command(subcommand)]
    Providers(ProviderCmd),
    /// A provider's upstream keys.
    #[command(subcommand)]
    Keys(KeyCmd),
    /// Gateway tokens.
    #[command(subcommand)]
    Tokens(TokenCmd),
    /// Teams: budgets, rates, concurrency and allow-lists shared by their tokens.
    #[command(subcommand)]
    Teams(TeamCmd),
    /// Model redirects.
    #[command(subcommand)]
    Redirects(RedirectCmd),
    /// Model prices.
    #[command(subcommand)]
    Prices(PriceCmd),
    /// Request logs.
    #[command(subcommand)]
    Logs(LogCmd),
    /// Metrics over a window.
    #[command(subcommand)]
    Metrics(MetricsCmd),
    /// Ed25519 keys allowed to log in.
    #[command(subcommand, name = "admin-keys")]
    AdminKeys(AdminKeyCmd),
    /// The audit trail of admin changes.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// A live dashboard in the terminal: traffic, latency, key health, top tokens, recent
    /// calls (tab / arrows move between panes, q quits).
    Tui {
        /// Seconds between refreshes.
        #[arg(long, default_value_t = 2)]
        refresh_secs: u64,
    },
}

#[derive(Args, Debug, Default)]
pub struct ProviderFields {
    /// openai, anthropic, zhipu or deepseek.
    #[arg(long)]
    pub api_type: Option<String>,
    #[arg(long)]
    pub base_url: Option<String>,
    /// Models served, comma separated (exact names or `*` globs).
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    #[arg(long)]
    pub weight: Option<i64>,
    #[arg(long)]
    pub enabled: Option<bool>,
}

#[derive(Subcommand, Debug)]
pub enum ProviderCmd {
    List,
    Show {
        name: String,
    },
    Create {
        name: String,
        #[command(flatten)]
        fields: ProviderFields,
    },
    Update {
        name: String,
        #[command(flatten)]
        fields: ProviderFields,
    },
    Delete {
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    List {
        provider: String,
    },
    Show {
        provider: String,
        id: i32,
    },
    Create {
        provider: String,
        /// The upstream API key (stored encrypted; never shown again).
        #[arg(long)]
        key: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        weight: Option<i64>,
    },
    Update {
        provider: String,
        id: i32,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long)]
        weight: Option<i64>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        provider: String,
        id: i32,
    },
}

#[derive(Args, Debug, Default)]
pub struct TokenFields {
    #[arg(long)]
    pub name: Option<String>,
    /// client or admin.
    #[arg(long)]
    pub role: Option<String>,
    /// Allowed models, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// Budget in USD.
    #[arg(long)]
    pub max_amount: Option<f64>,
    /// Budget in tokens.
    #[arg(long)]
    pub max_tokens: Option<i64>,
    /// RFC 3339.
    #[arg(long)]
    pub expires_at: Option<String>,
    #[arg(long)]
    pub rpm: Option<i64>,
    #[arg(long)]
    pub tpm: Option<i64>,
    /// Calls in flight at once.
    #[arg(long)]
    pub max_parallel: Option<i64>,
    #[arg(long)]
    pub enabled: Option<bool>,
    /// The team to join (`none` leaves it).
    #[arg(long)]
    pub team: Option<String>,
    /// none, daily, weekly, monthly, or a length like 15m, 1h, 30d.
    #[arg(long)]
    pub budget_period: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// A page of tokens (100 by default; the answer names the next page's cursor).
    List {
        /// Only names containing this (any case).
        #[arg(long)]
        q: Option<String>,
        /// Only the tokens of this team (id).
        #[arg(long)]
        team: Option<i32>,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        cursor: Option<String>,
    },
    Show {
        id: i32,
    },
    /// Prints the plaintext token (shown only this once) in the table or JSON.
    Create(TokenFields),
    Update {
        id: i32,
        #[command(flatten)]
        fields: TokenFields,
    },
    Delete {
        id: i32,
    },
}

#[derive(Args, Debug)]
pub struct RedirectFields {
    #[arg(long)]
    pub source: String,
    #[arg(long)]
    pub target: String,
    #[arg(long)]
    pub provider: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RedirectCmd {
    List,
    Show {
        source: String,
        #[arg(long)]
        provider: Option<String>,
    },
    Create(RedirectFields),
    Update(RedirectFields),
    Delete {
        #[arg(long)]
        source: String,
        #[arg(long)]
        provider: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct PriceFields {
    #[arg(long)]
    pub model: String,
    #[arg(long)]
    pub provider: Option<String>,
    /// USD per million input tokens.
    #[arg(long)]
    pub input: f64,
    /// USD per million output tokens.
    #[arg(long)]
    pub output: f64,
    #[arg(long)]
    pub cached_input: Option<f64>,
    #[arg(long)]
    pub cache_write: Option<f64>,
    #[arg(long)]
    pub max_output_tokens: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub enum PriceCmd {
    List,
    Show {
        model: String,
        #[arg(long)]
        provider: Option<String>,
    },
    Create(PriceFields),
    Update(PriceFields),
    Delete {
        #[arg(long)]
        model: String,
        #[arg(long)]
        provider: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LogCmd {
    List {
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        token_id: Option<i32>,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// success or error.
        #[arg(long)]
        status: Option<String>,
        /// RFC 3339 or Unix ms.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
    },
    Show {
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum MetricsCmd {
    /// The summary (totals, error rate, latency, top models/providers/tokens).
    #[command(alias = "summary")]
    Show {
        #[arg(long, default_value_t = 60)]
        window_minutes: i64,
    },
    /// The models distribution.
    #[command(alias = "distribution")]
    List {
        #[arg(long, default_value_t = 60)]
        window_minutes: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminKeyCmd {
    List,
    Create {
        /// Base64 of the 32-byte Ed25519 public key.
        #[arg(long)]
        public_key: String,
        #[arg(long)]
        name: String,
    },
    Delete {
        fingerprint: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    List {
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Args, Debug, Default)]
pub struct TeamFields {
    #[arg(long)]
    pub name: Option<String>,
    /// Budget in USD per period.
    #[arg(long)]
    pub max_amount: Option<f64>,
    /// Budget in tokens per period.
    #[arg(long)]
    pub max_tokens: Option<i64>,
    /// none, daily, weekly, monthly, or a length like 15m, 1h, 30d.
    #[arg(long)]
    pub budget_period: Option<String>,
    #[arg(long)]
    pub rpm: Option<i64>,
    #[arg(long)]
    pub tpm: Option<i64>,
    /// Calls in flight at once across the team's tokens.
    #[arg(long)]
    pub max_parallel: Option<i64>,
    /// Allowed models, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    #[arg(long)]
    pub enabled: Option<bool>,
}

#[derive(Subcommand, Debug)]
pub enum TeamCmd {
    /// A page of teams (100 by default; the answer names the next page's cursor).
    List {
        /// Only names containing this (any case).
        #[arg(long)]
        q: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        cursor: Option<String>,
    },
    Show {
        id: i32,
    },
    Create(TeamFields),
    Update {
        id: i32,
        #[command(flatten)]
        fields: TeamFields,
    },
    /// Deletes a team; one with tokens only with --force (they leave it).
    Delete {
        id: i32,
        #[arg(long)]
        force: bool,
    },
}
