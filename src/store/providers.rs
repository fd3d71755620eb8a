//! Providers: their rows created, changed and deleted, and the routing snapshot the
//! registry loads (providers, keys decrypted, redirects) with its change fingerprint.

use std::sync::Arc;

use super::{models_from_db, models_to_db};
use entity::{model_redirect, provider, provider_key};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};

use crate::core::api_type::ApiType;
use crate::secrets::{MasterKey, Sealed};
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
