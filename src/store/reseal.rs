//! Ciphertexts written before per-purpose keys (`v1:`), sealed again at start-up where
//! that is cheap: the upstream keys (a handful of rows). Stored conversations are read as
//! they are and age out with `responses.retention_days`.

use entity::provider_key;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::secrets::{MasterKey, Sealed};

/// Upstream keys written before per-purpose keys, sealed again with the upstream-key key
/// and their provider bound in (run at start-up; a key that does not open is left as it
/// is, and is skipped by routing as before). How many were re-sealed.
pub async fn reseal_legacy_keys(db: &DatabaseConnection, master: &MasterKey) -> Result<u64, DbErr> {
    let legacy = provider_key::Entity::find()
        .filter(provider_key::Column::KeyCiphertext.starts_with("v1:"))
        .all(db)
        .await?;
    let mut resealed = 0;
    for k in legacy {
        let what = Sealed::UpstreamKey {
            provider_id: k.provider_id,
        };
        let Ok(secret) = master.decrypt(what, &k.key_ciphertext) else {
            continue;
        };
        provider_key::Entity::update_many()
            .col_expr(
                provider_key::Column::KeyCiphertext,
                sea_orm::sea_query::Expr::value(master.encrypt(what, &secret)),
            )
            .filter(provider_key::Column::Id.eq(k.id))
            .filter(provider_key::Column::KeyCiphertext.eq(k.key_ciphertext.clone()))
            .exec(db)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}
