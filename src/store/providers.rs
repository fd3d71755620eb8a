//! Providers, their upstream keys and model redirects.

use std::sync::Arc;

use super::{models_from_db, models_to_db};
use entity::{model_redirect, provider, provider_key};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};

use crate::core::api_type::ApiType;
use crate::error::ApiError;
use crate::secrets::{mask_key, sha256_hex, MasterKey, Sealed};
use crate::time::now_ms;
use crate::upstream::quirks::{speaks_responses, Quirks};

/// A provider as the registry holds it.
#[derive(Debug, Clone)]
pub struct ProviderRecord {
    pub id: i32,
    pub name: String,
    pub api_type: ApiType,
    pub base_url: String,
    pub models: Option<Vec<String>>,
    pub weight: u32,
    pub enabled: bool,
    /// `native` or `chat` as set; `None`: decided by the base URL.
    pub responses: Option<String>,
    /// The vendor's row: the dialects it speaks (the Responses API too for an OpenAI-type
    /// provider set to `native`, or by default one at api.openai.com), how it reads its
    /// key and caps.
    pub quirks: &'static Quirks,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A `responses` setting: `native`, `chat`, or `auto` (by base URL; stored as none).
pub fn validate_responses_mode(mode: &str) -> Result<Option<String>, ApiError> {
    match mode {
        "native" | "chat" => Ok(Some(mode.to_string())),
        "auto" => Ok(None),
        _ => Err(ApiError::invalid_param(
            "responses",
            "responses must be 'native', 'chat' or 'auto'",
        )),
    }
}

/// An upstream key, decrypted, as its pool holds it.
#[derive(Clone)]
pub struct KeyRecord {
    pub id: i32,
    pub provider_id: i32,
    pub secret: Arc<str>,
    pub masked_key: String,
    pub description: Option<String>,
    pub weight: u32,
    pub enabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedirectRecord {
    /// `None` for a global redirect.
    pub provider: Option<String>,
    pub source: String,
    pub target: String,
}

/// Everything the registry needs, read in one go.
pub struct Snapshot {
    pub providers: Vec<ProviderRecord>,
    pub keys: Vec<KeyRecord>,
    pub redirects: Vec<RedirectRecord>,
}

/// A validated new provider.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub name: String,
    pub api_type: ApiType,
    pub base_url: String,
    pub models: Option<Vec<String>>,
    pub weight: u32,
    pub enabled: bool,
    /// `native` / `chat`; `None`: by base URL.
    pub responses: Option<String>,
}

/// A validated partial update; `models: Some(None)` clears the list.
#[derive(Debug, Clone, Default)]
pub struct ProviderPatch {
    pub api_type: Option<ApiType>,
    pub base_url: Option<String>,
    pub models: Option<Option<Vec<String>>>,
    pub weight: Option<u32>,
    pub enabled: Option<bool>,
    /// `Some(None)`: back to the base URL's default.
    pub responses: Option<Option<String>>,
}

#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: String,
    pub description: Option<String>,
    pub weight: u32,
}

#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub enabled: Option<bool>,
    pub weight: Option<u32>,
    pub description: Option<Option<String>>,
}

pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_param(
            "name",
            "name must be 1-64 characters of letters, digits, '-', '_' or '.'",
        ))
    }
}

pub fn validate_base_url(url: &str) -> Result<String, ApiError> {
    let trimmed = url.trim().trim_end_matches('/');
    let valid = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        && trimmed.len() > "https://".len()
        && !trimmed.contains(char::is_whitespace);
    if valid {
        Ok(trimmed.to_string())
    } else {
        Err(ApiError::invalid_param(
            "base_url",
            "base_url must be an http:// or https:// URL",
        ))
    }
}

pub fn validate_models(list: &[String]) -> Result<(), ApiError> {
    if list.iter().any(|m| m.trim().is_empty() || m.len() > 200) {
        return Err(ApiError::invalid_param(
            "models",
            "models must be non-empty names or globs",
        ));
    }
    Ok(())
}

pub fn validate_weight(weight: i64) -> Result<u32, ApiError> {
    u32::try_from(weight)
        .ok()
        .filter(|w| *w <= 1_000_000)
        .ok_or_else(|| ApiError::invalid_param("weight", "weight must be 0..=1000000"))
}

fn record(m: provider::Model) -> ProviderRecord {
    let api_type = ApiType::parse(&m.api_type);
    if api_type.is_none() {
        log::error!(
            "provider '{}' has an unknown stored api_type '{}': disabled",
            m.name,
            m.api_type
        );
    }
    let api_type_or_default = api_type.unwrap_or(ApiType::OpenAi);
    ProviderRecord {
        id: m.id,
        quirks: Quirks::of(
            api_type_or_default,
            speaks_responses(api_type_or_default, &m.base_url, m.responses.as_deref()),
        ),
        responses: m.responses,
        api_type: api_type.unwrap_or(ApiType::OpenAi),
        models: models_from_db(m.models.as_ref()),
        weight: m.weight.max(0) as u32,
        name: m.name,
        base_url: m.base_url,
        // Fail closed: a provider whose stored type is unknown is not used.
        enabled: m.enabled && api_type.is_some(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Reads providers, keys (decrypting each) and redirects.
pub async fn load_snapshot(db: &DatabaseConnection, master: &MasterKey) -> Result<Snapshot, DbErr> {
    let providers = provider::Entity::find()
        .order_by_asc(provider::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect();
    let keys = provider_key::Entity::find()
        .order_by_asc(provider_key::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|k| {
            match master.decrypt(
                Sealed::UpstreamKey {
                    provider_id: k.provider_id,
                },
                &k.key_ciphertext,
            ) {
                Ok(secret) => Some(KeyRecord {
                    id: k.id,
                    provider_id: k.provider_id,
                    secret: Arc::from(secret),
                    masked_key: k.masked_key,
                    description: k.description,
                    weight: k.weight.max(0) as u32,
                    enabled: k.enabled,
                    created_at: k.created_at,
                }),
                Err(e) => {
                    log::error!("provider key {} is unusable: {e}", k.id);
                    None
                }
            }
        })
        .collect();
    let redirects = model_redirect::Entity::find()
        .order_by_asc(model_redirect::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| RedirectRecord {
            provider: (!r.provider.is_empty()).then_some(r.provider),
            source: r.source,
            target: r.target,
        })
        .collect();
    Ok(Snapshot {
        providers,
        keys,
        redirects,
    })
}

/// A cheap fingerprint of the routing tables: changes whenever a row is added, changed or
/// removed, so instances reload only when something happened.
pub async fn fingerprint(db: &DatabaseConnection) -> Result<String, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    // SUM, not MAX, of updated_at: a change written by an instance whose clock is behind
    // still moves the sum (MAX would not move when another row holds a later time).
    let sql = "SELECT \
        (SELECT COUNT(*) FROM providers) AS a, (SELECT CAST(COALESCE(SUM(updated_at),0) AS BIGINT) FROM providers) AS b, \
        (SELECT CAST(COALESCE(SUM(id),0) AS BIGINT) FROM providers) AS c, \
        (SELECT COUNT(*) FROM provider_keys) AS d, (SELECT CAST(COALESCE(SUM(updated_at),0) AS BIGINT) FROM provider_keys) AS e, \
        (SELECT CAST(COALESCE(SUM(id),0) AS BIGINT) FROM provider_keys) AS f, \
        (SELECT COUNT(*) FROM model_redirects) AS g, (SELECT CAST(COALESCE(SUM(updated_at),0) AS BIGINT) FROM model_redirects) AS h, \
        (SELECT CAST(COALESCE(SUM(id),0) AS BIGINT) FROM model_redirects) AS i";
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DbErr::Custom("fingerprint query returned no row".into()))?;
    let mut parts = Vec::with_capacity(9);
    for col in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
        let v: i64 = row.try_get("", col)?;
        parts.push(v.to_string());
    }
    Ok(parts.join(":"))
}

pub async fn insert_provider(db: &DatabaseConnection, p: &NewProvider) -> Result<i32, DbErr> {
    let now = now_ms();
    let model = provider::ActiveModel {
        name: Set(p.name.clone()),
        api_type: Set(p.api_type.as_str().to_string()),
        base_url: Set(p.base_url.clone()),
        models: Set(models_to_db(&p.models)),
        weight: Set(p.weight as i32),
        enabled: Set(p.enabled),
        responses: Set(p.responses.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(model.id)
}

pub async fn find_provider(
    db: &DatabaseConnection,
    name: &str,
) -> Result<Option<provider::Model>, DbErr> {
    provider::Entity::find()
        .filter(provider::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn update_provider(
    db: &DatabaseConnection,
    name: &str,
    patch: &ProviderPatch,
) -> Result<bool, DbErr> {
    let Some(existing) = find_provider(db, name).await? else {
        return Ok(false);
    };
    let mut row: provider::ActiveModel = existing.into();
    if let Some(t) = patch.api_type {
        row.api_type = Set(t.as_str().to_string());
    }
    if let Some(url) = &patch.base_url {
        row.base_url = Set(url.clone());
    }
    if let Some(models) = &patch.models {
        row.models = Set(models_to_db(models));
    }
    if let Some(w) = patch.weight {
        row.weight = Set(w as i32);
    }
    if let Some(e) = patch.enabled {
        row.enabled = Set(e);
    }
    if let Some(mode) = &patch.responses {
        row.responses = Set(mode.clone());
    }
    row.updated_at = Set(now_ms());
    row.update(db).await?;
    Ok(true)
}

pub async fn delete_provider(db: &DatabaseConnection, name: &str) -> Result<bool, DbErr> {
    let Some(existing) = find_provider(db, name).await? else {
        return Ok(false);
    };
    let txn = db.begin().await?;
    provider_key::Entity::delete_many()
        .filter(provider_key::Column::ProviderId.eq(existing.id))
        .exec(&txn)
        .await?;
    model_redirect::Entity::delete_many()
        .filter(model_redirect::Column::Provider.eq(name))
        .exec(&txn)
        .await?;
    provider::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// Outcome of adding a key.
pub enum AddedKey {
    Added(provider_key::Model),
    NoProvider,
    Duplicate,
}

pub async fn insert_key(
    db: &DatabaseConnection,
    master: &MasterKey,
    provider_name: &str,
    k: &NewKey,
) -> Result<AddedKey, DbErr> {
    let Some(p) = find_provider(db, provider_name).await? else {
        return Ok(AddedKey::NoProvider);
    };
    let fingerprint = sha256_hex(k.key.as_bytes());
    let exists = provider_key::Entity::find()
        .filter(provider_key::Column::ProviderId.eq(p.id))
        .filter(provider_key::Column::KeyFingerprint.eq(fingerprint.clone()))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(AddedKey::Duplicate);
    }
    let now = now_ms();
    let model = provider_key::ActiveModel {
        provider_id: Set(p.id),
        key_ciphertext: Set(master.encrypt(Sealed::UpstreamKey { provider_id: p.id }, &k.key)),
        masked_key: Set(mask_key(&k.key)),
        key_fingerprint: Set(fingerprint),
        description: Set(k.description.clone()),
        weight: Set(k.weight as i32),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(AddedKey::Added(model))
}

async fn find_key(
    db: &DatabaseConnection,
    provider_name: &str,
    key_id: i32,
) -> Result<Option<provider_key::Model>, DbErr> {
    let Some(p) = find_provider(db, provider_name).await? else {
        return Ok(None);
    };
    provider_key::Entity::find_by_id(key_id)
        .filter(provider_key::Column::ProviderId.eq(p.id))
        .one(db)
        .await
}

pub async fn update_key(
    db: &DatabaseConnection,
    provider_name: &str,
    key_id: i32,
    patch: &KeyPatch,
) -> Result<bool, DbErr> {
    let Some(existing) = find_key(db, provider_name, key_id).await? else {
        return Ok(false);
    };
    let mut row: provider_key::ActiveModel = existing.into();
    if let Some(e) = patch.enabled {
        row.enabled = Set(e);
    }
    if let Some(w) = patch.weight {
        row.weight = Set(w as i32);
    }
    if let Some(d) = &patch.description {
        row.description = Set(d.clone());
    }
    row.updated_at = Set(now_ms());
    row.update(db).await?;
    Ok(true)
}

pub async fn delete_key(
    db: &DatabaseConnection,
    provider_name: &str,
    key_id: i32,
) -> Result<bool, DbErr> {
    let Some(existing) = find_key(db, provider_name, key_id).await? else {
        return Ok(false);
    };
    provider_key::Entity::delete_by_id(existing.id)
        .exec(db)
        .await?;
    Ok(true)
}

pub async fn upsert_redirect(db: &DatabaseConnection, r: &RedirectRecord) -> Result<(), DbErr> {
    let row = model_redirect::ActiveModel {
        provider: Set(r.provider.clone().unwrap_or_default()),
        source: Set(r.source.clone()),
        target: Set(r.target.clone()),
        updated_at: Set(now_ms()),
        ..Default::default()
    };
    model_redirect::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                model_redirect::Column::Provider,
                model_redirect::Column::Source,
            ])
            .update_columns([
                model_redirect::Column::Target,
                model_redirect::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn delete_redirect(
    db: &DatabaseConnection,
    provider: Option<&str>,
    source: &str,
) -> Result<bool, DbErr> {
    let res = model_redirect::Entity::delete_many()
        .filter(model_redirect::Column::Provider.eq(provider.unwrap_or_default()))
        .filter(model_redirect::Column::Source.eq(source))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Creates or updates a provider declared in settings, and adds its keys that are new.
pub async fn upsert_seed(
    db: &DatabaseConnection,
    master: &MasterKey,
    p: &NewProvider,
    keys: &[String],
) -> Result<(), DbErr> {
    if find_provider(db, &p.name).await?.is_some() {
        let patch = ProviderPatch {
            api_type: Some(p.api_type),
            base_url: Some(p.base_url.clone()),
            models: Some(p.models.clone()),
            weight: Some(p.weight),
            enabled: Some(p.enabled),
            responses: Some(p.responses.clone()),
        };
        update_provider(db, &p.name, &patch).await?;
    } else {
        insert_provider(db, p).await?;
    }
    for key in keys {
        let new = NewKey {
            key: key.clone(),
            description: Some("from settings".into()),
            weight: 1,
        };
        insert_key(db, master, &p.name, &new).await?;
    }
    Ok(())
}

/// Shares cool-downs decided here: each key is cooled until at least the database's now
/// plus `remaining_ms` (durations, not wall-clock times, cross between instances).
pub async fn share_cooldowns(db: &DatabaseConnection, cooled: &[(i32, i64)]) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
    let backend = db.get_database_backend();
    let (max, p1, p2) = match backend {
        DbBackend::Postgres => ("GREATEST", "$1", "$2"),
        _ => ("MAX", "?", "?"),
    };
    let sql = format!(
        "UPDATE provider_keys SET cooldown_until = {max}(cooldown_until, {} + {p1}) WHERE id = {p2}",
        super::db_clock_sql(backend)
    );
    for (id, remaining) in cooled {
        db.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [Value::from(*remaining), Value::from(*id)],
        ))
        .await?;
    }
    Ok(())
}

/// Keys a recovery probe found serving again: their shared cool-downs end.
pub async fn end_cooldowns(db: &DatabaseConnection, keys: &[i32]) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
    let backend = db.get_database_backend();
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!("UPDATE provider_keys SET cooldown_until = 0 WHERE id = {p}");
    for id in keys {
        db.execute(Statement::from_sql_and_values(
            backend,
            &sql,
            [Value::from(*id)],
        ))
        .await?;
    }
    Ok(())
}

/// Keys cooling down anywhere in the cluster: (key id, milliseconds left).
pub async fn active_cooldowns(db: &DatabaseConnection) -> Result<Vec<(i32, i64)>, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let now = super::db_clock_sql(backend);
    let sql = format!(
        "SELECT id, cooldown_until - {now} AS remaining FROM provider_keys WHERE cooldown_until > {now}"
    );
    let rows = db.query_all(Statement::from_string(backend, sql)).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<i32>("", "id")?,
                r.try_get::<i64>("", "remaining")?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate_name("my-openai").is_ok());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("").is_err());
        assert_eq!(
            validate_base_url("https://api.openai.com/v1/").unwrap(),
            "https://api.openai.com/v1"
        );
        assert!(validate_base_url("ftp://x").is_err());
        assert!(validate_base_url("https://").is_err());
        assert!(validate_weight(-1).is_err());
        assert_eq!(validate_weight(3).unwrap(), 3);
    }
}
