//! `gateway-zero admin teams …`: team commands as REST calls.

use http::Method;
use serde_json::{json, Value};

use super::admin_args::{TeamCmd, TeamFields};
use super::call::{object, query, Call};
use super::table;

fn team_body(f: TeamFields) -> Value {
    object(vec![
        ("name", f.name.map(Value::from)),
        ("max_amount", f.max_amount.map(Value::from)),
        ("max_tokens", f.max_tokens.map(Value::from)),
        ("budget_period", f.budget_period.map(Value::from)),
        ("rpm", f.rpm.map(Value::from)),
        ("tpm", f.tpm.map(Value::from)),
        ("max_parallel", f.max_parallel.map(Value::from)),
        ("allowed_models", f.models.map(|m| json!(m))),
        ("enabled", f.enabled.map(Value::from)),
    ])
}

pub(super) fn team_call(c: TeamCmd) -> Result<Call, String> {
    use table::View as V;
    Ok(match c {
        TeamCmd::List { q, limit, cursor } => Call::new(
            Method::GET,
            format!(
                "/admin/teams{}",
                query(&[
                    ("q", q),
                    ("limit", limit.map(|n| n.to_string())),
                    ("cursor", cursor),
                ])
            ),
            V::Teams,
        ),
        TeamCmd::Show { id } => Call::new(Method::GET, format!("/admin/teams/{id}"), V::Teams),
        TeamCmd::Create(fields) => {
            if fields.name.is_none() {
                return Err("teams create needs --name".into());
            }
            Call::new(Method::POST, "/admin/teams", V::Teams).body(team_body(fields))
        }
        TeamCmd::Update { id, fields } => {
            Call::new(Method::PATCH, format!("/admin/teams/{id}"), V::Teams).body(team_body(fields))
        }
        TeamCmd::Delete { id, force } => Call::new(
            Method::DELETE,
            format!(
                "/admin/teams/{id}{}",
                if force { "?force=true" } else { "" }
            ),
            V::Done,
        ),
    })
}
