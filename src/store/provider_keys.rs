//! A provider's upstream keys: added (sealed with the master key, refused twice), changed
//! and removed.

use entity::provider_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};

use super::providers::find_provider;
use crate::secrets::{mask_key, sha256_hex, MasterKey, Sealed};
use crate::time::now_ms;

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
