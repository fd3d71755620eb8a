//! The admin keys: registering, removing (never the last) and listing the Ed25519 public
//! keys that may log in.

use actix::prelude::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use entity::admin_key;

use super::{db_error, AdminGate};
use crate::error::ApiError;
use crate::secrets::sha256_hex;
use crate::store::sessions::{self, RemoveKey};
use crate::time::now_ms;

/// Parses a base64 Ed25519 public key; `(base64 as given, fingerprint)`.
pub fn parse_public_key(text: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::invalid_param(
            "public_key",
            "public_key must be a base64 32-byte Ed25519 public key",
        )
    };
    let bytes: [u8; 32] = STANDARD
        .decode(text.trim())
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
    Ok((STANDARD.encode(bytes), sha256_hex(&bytes)))
}

#[derive(Message)]
#[rtype(result = "Result<admin_key::Model, ApiError>")]
pub struct AddAdminKey {
    pub name: String,
    pub public_key: String,
}

impl Handler<AddAdminKey> for AdminGate {
    type Result = ResponseFuture<Result<admin_key::Model, ApiError>>;

    fn handle(&mut self, msg: AddAdminKey, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let (public_key, fingerprint) = parse_public_key(&msg.public_key)?;
            sessions::insert_key(&db, msg.name, public_key, fingerprint, now_ms())
                .await
                .map_err(db_error("cannot store the admin key"))?
                .ok_or_else(|| ApiError::Conflict("this admin key is already registered".into()))
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<admin_key::Model, ApiError>")]
pub struct RemoveAdminKey {
    pub fingerprint: String,
}

impl Handler<RemoveAdminKey> for AdminGate {
    type Result = ResponseFuture<Result<admin_key::Model, ApiError>>;

    fn handle(&mut self, msg: RemoveAdminKey, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let fp = msg.fingerprint.to_ascii_lowercase();
            match sessions::remove_key(&db, &fp)
                .await
                .map_err(db_error("cannot remove the admin key"))?
            {
                RemoveKey::Removed(key) => Ok(key),
                RemoveKey::NotFound => {
                    Err(ApiError::NotFound(format!("admin key '{fp}' not found")))
                }
                RemoveKey::LastKey => Err(ApiError::Conflict(
                    "the last admin key cannot be removed; add another first".into(),
                )),
            }
        })
    }
}

/// The registered admin keys.
#[derive(Message)]
#[rtype(result = "Result<Vec<admin_key::Model>, ApiError>")]
pub struct ListAdminKeys;

impl Handler<ListAdminKeys> for AdminGate {
    type Result = ResponseFuture<Result<Vec<admin_key::Model>, ApiError>>;

    fn handle(&mut self, _: ListAdminKeys, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            sessions::list_keys(&db)
                .await
                .map_err(db_error("cannot read admin keys"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_checked() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let public = STANDARD.encode(key.verifying_key().to_bytes());
        let (b64, fp) = parse_public_key(&public).unwrap();
        assert_eq!(b64, public);
        assert_eq!(fp.len(), 64);
        assert!(parse_public_key("AAAA").is_err());
        assert!(parse_public_key("not base64!").is_err());
    }
}
