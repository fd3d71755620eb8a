//! The command line: `serve`, `migrate`, `token create`, `token list`, and the terminal
//! admin (`admin login`, `admin <resource> <verb>`).

pub mod admin;
mod admin_args;
mod admin_teams;
mod call;
mod http;
pub mod login;
mod prices;
mod table;
mod tui;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::core::money::Money;
use crate::settings::Settings;
use crate::store::tokens::{self, NewToken, Role};
use crate::time::{parse_rfc3339, to_rfc3339};
use crate::{db, server};

#[derive(Parser, Debug)]
#[command(
    name = "gateway-zero",
    version,
    about = "An OpenAI-compatible LLM API gateway"
)]
pub struct Cli {
    /// Extra settings file, layered over settings/default.toml and settings/local.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage gateway tokens directly in the configured database.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The terminal admin: log in with the Ed25519 key, then manage a running gateway.
    Admin(admin::AdminArgs),
    /// Prices in the configured database.
    #[command(subcommand)]
    Prices(PricesCommand),
}

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// Create or update every price a LiteLLM `model_prices_and_context_window.json` holds;
    /// prints what was created, updated and skipped.
    Import {
        /// The price list file.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print its plaintext (shown only this once).
    Create(CreateArgs),
    /// List tokens (never their plaintext).
    List,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,
    /// An admin token (may use the admin API).
    #[arg(long)]
    pub admin: bool,
    /// Allowed models, comma separated (exact names or `*` globs).
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// Budget in USD.
    #[arg(long)]
    pub max_amount: Option<f64>,
    /// Budget in total tokens.
    #[arg(long)]
    pub max_tokens: Option<i64>,
    /// Expiry, RFC 3339 (e.g. 2027-01-01T00:00:00Z).
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<i32>,
    /// Tokens per minute.
    #[arg(long)]
    pub tpm: Option<i32>,
}

/// Runs the parsed command. Errors become one line on stderr and a non-zero exit.
pub async fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::serve(settings).await,
        Command::Migrate => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Token(TokenCommand::Create(args)) => create_token(&settings, args).await,
        Command::Token(TokenCommand::List) => list_tokens(&settings).await,
        Command::Admin(args) => admin::run(&settings, args).await,
        Command::Prices(PricesCommand::Import { file }) => prices::import(&settings, &file).await,
    }
}

fn new_token(args: CreateArgs) -> Result<NewToken, String> {
    let name = args.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err("--name must be 1-100 characters".into());
    }
    if args.max_tokens.is_some_and(|n| n < 0) {
        return Err("--max-tokens must not be negative".into());
    }
    if args.rpm.is_some_and(|n| n <= 0) || args.tpm.is_some_and(|n| n <= 0) {
        return Err("--rpm and --tpm must be positive".into());
    }
    let models = args.models.map(|list| {
        list.into_iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
    });
    Ok(NewToken {
        max_parallel: None,
        name: name.to_string(),
        role: if args.admin {
            Role::Admin
        } else {
            Role::Client
        },
        allowed_models: models,
        max_tokens: args.max_tokens,
        max_amount_nano: args
            .max_amount
            .map(|usd| Money::from_usd(usd).map(Money::nanos))
            .transpose()?,
        expires_at: args.expires_at.as_deref().map(parse_rfc3339).transpose()?,
        rpm: args.rpm,
        tpm: args.tpm,
        team_id: None,
        budget_period: "none".into(),
    })
}

async fn create_token(settings: &Settings, args: CreateArgs) -> Result<(), String> {
    let new = new_token(args)?;
    let conn = db::connect(settings).await?;
    db::migrate(&conn).await?;
    let (_, plaintext) = tokens::create(&conn, &new, None)
        .await
        .map_err(|e| format!("cannot create token: {e}"))?;
    println!("{plaintext}");
    Ok(())
}

async fn list_tokens(settings: &Settings) -> Result<(), String> {
    let conn = db::connect(settings).await?;
    db::migrate(&conn).await?;
    let rows = tokens::list(&conn)
        .await
        .map_err(|e| format!("cannot list tokens: {e}"))?;
    println!(
        "{:<5} {:<20} {:<7} {:<11} {:<8} {:<24} {:<12} {:<12} {:<10} {:<12}",
        "ID",
        "NAME",
        "ROLE",
        "PREFIX",
        "ENABLED",
        "EXPIRES",
        "MAX_USD",
        "MAX_TOKENS",
        "REQUESTS",
        "SPENT_USD"
    );
    for t in rows {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        println!(
            "{:<5} {:<20} {:<7} {:<11} {:<8} {:<24} {:<12} {:<12} {:<10} {:<12.6}",
            t.id,
            crate::core::text::printable(&t.name),
            t.role.as_str(),
            format!("{}…", t.token_prefix),
            t.enabled,
            opt(t.expires_at.map(to_rfc3339)),
            opt(t
                .max_amount_nano
                .map(|n| format!("{:.4}", Money::from_nanos(n).usd()))),
            opt(t.max_tokens.map(|n| n.to_string())),
            t.request_count,
            Money::from_nanos(t.amount_spent_nano).usd(),
        );
    }
    Ok(())
}
