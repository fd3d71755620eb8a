//! Providers declared in settings: created or updated at start, their new keys added.

use sea_orm::{DatabaseConnection, DbErr};

use super::provider_keys::{insert_key, NewKey};
use super::providers::{
    find_provider, insert_provider, update_provider, NewProvider, ProviderPatch,
};
use crate::secrets::MasterKey;

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
