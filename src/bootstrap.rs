//! Start-up tasks that make a fresh installation usable: the bootstrap admin token, the
//! admin Ed25519 key, and providers declared in settings.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use entity::admin_key;
use rand::rngs::OsRng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};

use crate::core::api_type::ApiType;
use crate::routing::provider_input::{
    validate_base_url, validate_models, validate_name, validate_responses_mode,
};
use crate::secrets::{sha256_hex, write_secret_file, MasterKey};
use crate::settings::Settings;
use crate::store::provider_seed::upsert_seed;
use crate::store::providers::NewProvider;
use crate::store::tokens;
use crate::time::now_ms;

pub async fn run(
    settings: &Settings,
    db: &DatabaseConnection,
    master: &MasterKey,
) -> Result<(), String> {
    if let Some(token) = settings.auth.bootstrap_admin_token.as_deref() {
        let token = token.trim();
        if token.len() < 16 {
            return Err("auth.bootstrap_admin_token must be at least 16 characters".into());
        }
        match tokens::ensure_bootstrap(db, token)
            .await
            .map_err(|e| format!("cannot create the bootstrap admin token: {e}"))?
        {
            tokens::Bootstrap::Created => {
                log::info!("created the bootstrap admin token from auth.bootstrap_admin_token")
            }
            tokens::Bootstrap::Exists => {}
            tokens::Bootstrap::Deleted => log::warn!(
                "auth.bootstrap_admin_token names a token an admin deleted: it is not re-created \
                 (remove the setting to silence this warning)"
            ),
        }
    }
    ensure_admin_key(settings, db).await?;
    crate::store::prices::seed_defaults(db)
        .await
        .map_err(|e| format!("cannot seed default prices: {e}"))?;
    match crate::store::reseal::reseal_legacy_keys(db, master).await {
        Ok(0) => {}
        Ok(n) => log::info!("re-sealed {n} upstream keys with the per-purpose key"),
        Err(e) => return Err(format!("cannot re-seal upstream keys: {e}")),
    }
    for seed in &settings.providers {
        let p = seed_to_provider(seed)?;
        upsert_seed(db, master, &p, &seed.keys)
            .await
            .map_err(|e| format!("cannot save provider '{}' from settings: {e}", seed.name))?;
    }
    Ok(())
}

fn seed_to_provider(seed: &crate::settings::ProviderSeed) -> Result<NewProvider, String> {
    let bad = |e: crate::error::ApiError| format!("provider '{}' in settings: {e}", seed.name);
    validate_name(&seed.name).map_err(bad)?;
    let api_type = ApiType::parse(&seed.api_type).ok_or_else(|| {
        format!(
            "provider '{}': unknown api_type '{}'",
            seed.name, seed.api_type
        )
    })?;
    let base_url = validate_base_url(
        seed.base_url
            .as_deref()
            .unwrap_or(api_type.default_base_url()),
    )
    .map_err(bad)?;
    if let Some(m) = &seed.models {
        validate_models(m).map_err(bad)?;
    }
    Ok(NewProvider {
        name: seed.name.clone(),
        api_type,
        base_url,
        models: seed.models.clone(),
        weight: seed.weight.unwrap_or(1).max(0) as u32,
        enabled: seed.enabled.unwrap_or(true),
        responses: seed
            .responses
            .as_deref()
            .map(validate_responses_mode)
            .transpose()
            .map_err(bad)?
            .flatten(),
    })
}

/// Creates the admin key file (0600) if missing and registers its public key — when it is
/// new, or when no admin key is registered at all. A key removed over the admin API stays
/// removed across restarts.
async fn ensure_admin_key(settings: &Settings, db: &DatabaseConnection) -> Result<(), String> {
    let path = &settings.auth.admin_key_path;
    let generated = !path.exists();
    let signing = if !generated {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let seed: [u8; 32] = STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("{} must hold a base64 32-byte seed", path.display()))?;
        SigningKey::from_bytes(&seed)
    } else {
        let key = SigningKey::generate(&mut OsRng);
        write_secret_file(path, &STANDARD.encode(key.to_bytes()))?;
        log::info!("generated the admin login key at {}", path.display());
        key
    };
    let public = signing.verifying_key().to_bytes();
    let fingerprint = sha256_hex(&public);
    let known = admin_key::Entity::find()
        .filter(admin_key::Column::Fingerprint.eq(fingerprint.clone()))
        .one(db)
        .await
        .map_err(|e| format!("cannot read admin keys: {e}"))?;
    let registered = admin_key::Entity::find()
        .count(db)
        .await
        .map_err(|e| format!("cannot read admin keys: {e}"))?;
    if known.is_none() && (generated || registered == 0) {
        admin_key::ActiveModel {
            name: Set(format!("{}", path.display())),
            public_key: Set(STANDARD.encode(public)),
            fingerprint: Set(fingerprint),
            enabled: Set(true),
            created_at: Set(now_ms()),
            ..Default::default()
        }
        .insert(db)
        .await
        .map_err(|e| format!("cannot register the admin key: {e}"))?;
    }
    Ok(())
}
