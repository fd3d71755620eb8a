//! `gateway-zero admin …`: the terminal admin. Every command is one call of the admin REST
//! API with the saved session (or `--token`); answers print as a table, or as JSON with
//! `--json`.

use http::Method;
use serde_json::{json, Value};

pub use super::admin_args::*;
use super::call::{enc, object, query, Call};
use super::http::Http;
use super::login::{self, load_session, save_session, session_path};
use super::{admin_teams, table};
use crate::settings::Settings;

fn provider_body(name: Option<&str>, f: ProviderFields) -> Value {
    let mut body = object(vec![
        ("api_type", f.api_type.map(Value::from)),
        ("base_url", f.base_url.map(Value::from)),
        ("models", f.models.map(|m| json!(m))),
        ("weight", f.weight.map(Value::from)),
        ("enabled", f.enabled.map(Value::from)),
    ]);
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    body
}

fn token_body(f: TokenFields) -> Value {
    object(vec![
        ("name", f.name.map(Value::from)),
        ("role", f.role.map(Value::from)),
        ("allowed_models", f.models.map(|m| json!(m))),
        ("max_amount", f.max_amount.map(Value::from)),
        ("max_tokens", f.max_tokens.map(Value::from)),
        ("expires_at", f.expires_at.map(Value::from)),
        ("rpm", f.rpm.map(Value::from)),
        ("tpm", f.tpm.map(Value::from)),
        ("max_parallel", f.max_parallel.map(Value::from)),
        ("enabled", f.enabled.map(Value::from)),
        (
            "team_id",
            f.team
                .map(|t| t.parse::<i64>().map_or(Value::Null, Value::from)),
        ),
        ("budget_period", f.budget_period.map(Value::from)),
    ])
}

fn price_body(f: PriceFields) -> Value {
    object(vec![
        ("model", Some(json!(f.model))),
        ("provider", f.provider.map(Value::from)),
        ("input_per_million", Some(json!(f.input))),
        ("output_per_million", Some(json!(f.output))),
        ("cached_input_per_million", f.cached_input.map(Value::from)),
        ("cache_write_per_million", f.cache_write.map(Value::from)),
        ("max_output_tokens", f.max_output_tokens.map(Value::from)),
    ])
}

fn plan(command: AdminCommand) -> Result<Call, String> {
    use table::View as V;
    Ok(match command {
        AdminCommand::Login { .. } | AdminCommand::Logout | AdminCommand::Tui { .. } => {
            unreachable!("handled before")
        }
        AdminCommand::Providers(c) => match c {
            ProviderCmd::List => Call::new(Method::GET, "/providers", V::Providers),
            ProviderCmd::Show { name } => Call::new(
                Method::GET,
                format!("/providers/{}", enc(&name)),
                V::Providers,
            ),
            ProviderCmd::Create { name, fields } => {
                if fields.api_type.is_none() {
                    return Err("providers create needs --api-type".into());
                }
                Call::new(Method::POST, "/providers", V::Providers)
                    .body(provider_body(Some(&name), fields))
            }
            ProviderCmd::Update { name, fields } => Call::new(
                Method::PATCH,
                format!("/providers/{}", enc(&name)),
                V::Providers,
            )
            .body(provider_body(None, fields)),
            ProviderCmd::Delete { name } => Call::new(
                Method::DELETE,
                format!("/providers/{}", enc(&name)),
                V::Done,
            ),
        },
        AdminCommand::Keys(c) => match c {
            KeyCmd::List { provider } => Call::new(
                Method::GET,
                format!("/providers/{}/keys?limit=1000", enc(&provider)),
                V::Keys,
            ),
            KeyCmd::Show { provider, id } => Call::new(
                Method::GET,
                format!("/providers/{}/keys?limit=1000", enc(&provider)),
                V::Keys,
            )
            .pick("id", json!(id)),
            KeyCmd::Create {
                provider,
                key,
                description,
                weight,
            } => Call::new(
                Method::POST,
                format!("/providers/{}/keys", enc(&provider)),
                V::Keys,
            )
            .body(object(vec![
                ("key", Some(json!(key))),
                ("description", description.map(Value::from)),
                ("weight", weight.map(Value::from)),
            ])),
            KeyCmd::Update {
                provider,
                id,
                enabled,
                weight,
                description,
            } => Call::new(
                Method::PATCH,
                format!("/providers/{}/keys/{id}", enc(&provider)),
                V::Keys,
            )
            .body(object(vec![
                ("enabled", enabled.map(Value::from)),
                ("weight", weight.map(Value::from)),
                ("description", description.map(Value::from)),
            ])),
            KeyCmd::Delete { provider, id } => Call::new(
                Method::DELETE,
                format!("/providers/{}/keys/{id}", enc(&provider)),
                V::Done,
            ),
        },
        AdminCommand::Tokens(c) => match c {
            TokenCmd::List {
                q,
                team,
                limit,
                cursor,
            } => Call::new(
                Method::GET,
                format!(
                    "/admin/tokens{}",
                    query(&[
                        ("q", q),
                        ("team_id", team.map(|t| t.to_string())),
                        ("limit", limit.map(|n| n.to_string())),
                        ("cursor", cursor),
                    ])
                ),
                V::Tokens,
            ),
            TokenCmd::Show { id } => {
                Call::new(Method::GET, format!("/admin/tokens/{id}"), V::Tokens)
            }
            TokenCmd::Create(fields) => {
                if fields.name.is_none() {
                    return Err("tokens create needs --name".into());
                }
                Call::new(Method::POST, "/admin/tokens", V::NewToken).body(token_body(fields))
            }
            TokenCmd::Update { id, fields } => {
                Call::new(Method::PATCH, format!("/admin/tokens/{id}"), V::Tokens)
                    .body(token_body(fields))
            }
            TokenCmd::Delete { id } => {
                Call::new(Method::DELETE, format!("/admin/tokens/{id}"), V::Done)
            }
        },
        AdminCommand::Teams(c) => admin_teams::team_call(c)?,
        AdminCommand::Redirects(c) => match c {
            RedirectCmd::List => Call::new(
                Method::GET,
                "/admin/model-redirects?limit=1000",
                V::Redirects,
            ),
            RedirectCmd::Show { source, provider } => Call::new(
                Method::GET,
                "/admin/model-redirects?limit=1000",
                V::Redirects,
            )
            .pick("source", json!(source))
            .pick("provider", json!(provider)),
            RedirectCmd::Create(f) | RedirectCmd::Update(f) => {
                Call::new(Method::PUT, "/admin/model-redirects", V::Redirects).body(object(vec![
                    ("source", Some(json!(f.source))),
                    ("target", Some(json!(f.target))),
                    ("provider", f.provider.map(Value::from)),
                ]))
            }
            RedirectCmd::Delete { source, provider } => Call::new(
                Method::DELETE,
                format!(
                    "/admin/model-redirects{}",
                    query(&[("source", Some(source)), ("provider", provider)])
                ),
                V::Done,
            ),
        },
        AdminCommand::Prices(c) => match c {
            PriceCmd::List => Call::new(Method::GET, "/admin/model-prices?limit=1000", V::Prices),
            PriceCmd::Show { model, provider } => {
                Call::new(Method::GET, "/admin/model-prices?limit=1000", V::Prices)
                    .pick("model", json!(model))
                    .pick("provider", json!(provider))
            }
            PriceCmd::Create(f) | PriceCmd::Update(f) => {
                Call::new(Method::PUT, "/admin/model-prices", V::Prices).body(price_body(f))
            }
            PriceCmd::Delete { model, provider } => Call::new(
                Method::DELETE,
                format!(
                    "/admin/model-prices{}",
                    query(&[("model", Some(model)), ("provider", provider)])
                ),
                V::Done,
            ),
        },
        AdminCommand::Logs(c) => match c {
            LogCmd::List {
                limit,
                cursor,
                token_id,
                provider,
                model,
                status,
                since,
                until,
            } => Call::new(
                Method::GET,
                format!(
                    "/admin/logs/requests{}",
                    query(&[
                        ("limit", Some(limit.to_string())),
                        ("cursor", cursor),
                        ("token_id", token_id.map(|t| t.to_string())),
                        ("provider", provider),
                        ("model", model),
                        ("status", status),
                        ("since", since),
                        ("until", until),
                    ])
                ),
                V::Logs,
            ),
            LogCmd::Show { id } => {
                Call::new(Method::GET, format!("/admin/logs/requests/{id}"), V::Logs)
            }
        },
        AdminCommand::Metrics(c) => match c {
            MetricsCmd::Show { window_minutes } => Call::new(
                Method::GET,
                format!("/admin/metrics/summary?window_minutes={window_minutes}"),
                V::Summary,
            ),
            MetricsCmd::List { window_minutes } => Call::new(
                Method::GET,
                format!("/admin/metrics/models-distribution?window_minutes={window_minutes}"),
                V::Distribution,
            ),
        },
        AdminCommand::AdminKeys(c) => match c {
            AdminKeyCmd::List => {
                Call::new(Method::GET, "/admin/admin-keys?limit=1000", V::AdminKeys)
            }
            AdminKeyCmd::Create { public_key, name } => {
                Call::new(Method::POST, "/admin/admin-keys", V::AdminKeys)
                    .body(json!({"public_key": public_key, "name": name}))
            }
            AdminKeyCmd::Delete { fingerprint } => Call::new(
                Method::DELETE,
                format!("/admin/admin-keys/{}", enc(&fingerprint)),
                V::Done,
            ),
        },
        AdminCommand::Audit(AuditCmd::List { limit, cursor }) => Call::new(
            Method::GET,
            format!(
                "/admin/audit{}",
                query(&[("limit", Some(limit.to_string())), ("cursor", cursor)])
            ),
            V::Audit,
        ),
    })
}

fn default_url(settings: &Settings) -> String {
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1",
        h => h,
    };
    format!("http://{host}:{}", settings.server.port)
}

pub async fn run(settings: &Settings, args: AdminArgs) -> Result<(), String> {
    let http = Http::new(settings)?;
    let session_file = session_path(args.session_file.as_deref())?;
    let saved = || load_session(&session_file);
    match args.command {
        AdminCommand::Login { key } => {
            let url = args.url.unwrap_or_else(|| default_url(settings));
            let key_path = key.unwrap_or_else(|| settings.auth.admin_key_path.clone());
            let signing = login::read_key(&key_path)?;
            let session = login::login(&http, &url, &signing).await?;
            save_session(&session_file, &session)?;
            println!("{}", session.session_token);
            return Ok(());
        }
        AdminCommand::Logout => {
            let session = saved()?.ok_or("not logged in: no session file")?;
            let url = args.url.unwrap_or(session.url.clone());
            let result = http
                .call(
                    Method::POST,
                    &url,
                    "/auth/logout",
                    Some(&session.session_token),
                    None,
                )
                .await;
            std::fs::remove_file(&session_file)
                .map_err(|e| format!("cannot remove {}: {e}", session_file.display()))?;
            result?;
            eprintln!("logged out");
            return Ok(());
        }
        _ => {}
    }
    let session = saved()?;
    let url = args
        .url
        .or_else(|| session.as_ref().map(|s| s.url.clone()))
        .unwrap_or_else(|| default_url(settings));
    let typed = if args.token_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
        Some(line.trim().to_string()).filter(|t| !t.is_empty())
    } else {
        if args.token.is_some()
            && std::env::args().any(|a| a == "--token" || a.starts_with("--token="))
        {
            eprintln!(
                "warning: --token puts the admin credential in the process list; use \
                 GATEWAY_ADMIN_TOKEN or --token-stdin"
            );
        }
        args.token
    };
    let bearer = typed
        .or_else(|| session.map(|s| s.session_token))
        .ok_or("not logged in: run `gateway-zero admin login` or pass --token")?;
    if let AdminCommand::Tui { refresh_secs } = args.command {
        let refresh = std::time::Duration::from_secs(refresh_secs.clamp(1, 3600));
        return super::tui::run(http, url, bearer, refresh).await;
    }
    let call = plan(args.command)?;
    let mut answer = http
        .call(call.method, &url, &call.path, Some(&bearer), call.body)
        .await?;
    if !call.pick.is_empty() {
        let matches = |item: &Value| call.pick.iter().all(|(f, v)| &item[*f] == v);
        let found = answer["data"]
            .as_array()
            .and_then(|items| items.iter().find(|i| matches(i)).cloned())
            .ok_or("404 not_found_error: no such item")?;
        answer = found;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    } else {
        print!("{}", table::render(call.view, &answer));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments_and_queries() {
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
        assert_eq!(
            query(&[("source", Some("gpt-4".into())), ("provider", None)]),
            "?source=gpt-4"
        );
        assert_eq!(query(&[("a", None)]), "");
    }

    #[test]
    fn only_given_fields_are_sent() {
        let body = token_body(TokenFields {
            name: Some("x".into()),
            max_tokens: Some(5),
            ..Default::default()
        });
        assert_eq!(body, json!({"name": "x", "max_tokens": 5}));
    }
}
