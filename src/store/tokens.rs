//! Gateway tokens: created here (plaintext returned once), stored as SHA-256 hashes.

use entity::token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use crate::secrets::{generate_token, hash_token, token_display_prefix};
use crate::time::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "client" => Some(Role::Client),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A validated new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub allowed_models: Option<Vec<String>>,
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub expires_at: Option<i64>,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
}

impl NewToken {
    pub fn named(name: &str, role: Role) -> NewToken {
        NewToken {
            name: name.to_string(),
            role,
            allowed_models: None,
            max_tokens: None,
            max_amount_nano: None,
            expires_at: None,
            rpm: None,
            tpm: None,
        }
    }
}

pub fn models_to_db(models: &Option<Vec<String>>) -> Option<String> {
    models
        .as_ref()
        .map(|m| serde_json::Value::from(m.clone()).to_string())
}

pub fn models_from_db(text: Option<&str>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Inserts a token; `plaintext` is used when given (bootstrap), else one is generated.
/// Returns the row and the plaintext, which is never stored.
pub async fn create(
    db: &DatabaseConnection,
    new: &NewToken,
    plaintext: Option<&str>,
) -> Result<(token::Model, String), DbErr> {
    let plain = plaintext.map(str::to_string).unwrap_or_else(generate_token);
    let now = now_ms();
    let row = token::ActiveModel {
        name: Set(new.name.clone()),
        token_hash: Set(hash_token(&plain)),
        token_prefix: Set(token_display_prefix(&plain)),
        role: Set(new.role.as_str().to_string()),
        allowed_models: Set(models_to_db(&new.allowed_models)),
        max_tokens: Set(new.max_tokens),
        max_amount_nano: Set(new.max_amount_nano),
        expires_at: Set(new.expires_at),
        enabled: Set(true),
        rpm: Set(new.rpm),
        tpm: Set(new.tpm),
        prompt_tokens: Set(0),
        completion_tokens: Set(0),
        total_tokens: Set(0),
        amount_spent_nano: Set(0),
        request_count: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, plain))
}

pub async fn find_by_hash(
    db: &DatabaseConnection,
    hash: &str,
) -> Result<Option<token::Model>, DbErr> {
    token::Entity::find()
        .filter(token::Column::TokenHash.eq(hash))
        .one(db)
        .await
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .order_by_asc(token::Column::Id)
        .all(db)
        .await
}

/// Creates the bootstrap admin token unless a token with that plaintext exists.
pub async fn ensure_bootstrap(db: &DatabaseConnection, plaintext: &str) -> Result<bool, DbErr> {
    if find_by_hash(db, &hash_token(plaintext)).await?.is_some() {
        return Ok(false);
    }
    create(
        db,
        &NewToken::named("bootstrap-admin", Role::Admin),
        Some(plaintext),
    )
    .await?;
    Ok(true)
}
