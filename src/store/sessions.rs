//! Admin login state: public keys, single-use challenges, hashed sessions. All of it lives
//! in the database, so a challenge issued by one instance verifies on any other.

use entity::{admin_key, admin_session, login_challenge};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, Statement, TransactionTrait,
};

pub async fn insert_challenge(
    db: &DatabaseConnection,
    row: login_challenge::Model,
) -> Result<(), DbErr> {
    login_challenge::ActiveModel {
        id: Set(row.id),
        fingerprint: Set(row.fingerprint),
        nonce: Set(row.nonce),
        expires_at: Set(row.expires_at),
        used: Set(false),
        created_at: Set(row.created_at),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Marks a challenge used and returns it — only if it was unused and unexpired. One
/// conditional UPDATE, so of two instances verifying the same answer at once one wins.
pub async fn consume_challenge(
    db: &DatabaseConnection,
    id: &str,
    now: i64,
) -> Result<Option<login_challenge::Model>, DbErr> {
    let Some(row) = login_challenge::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let won = login_challenge::Entity::update_many()
        .col_expr(login_challenge::Column::Used, Expr::value(true))
        .filter(login_challenge::Column::Id.eq(id))
        .filter(login_challenge::Column::Used.eq(false))
        .filter(login_challenge::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?
        .rows_affected
        == 1;
    Ok(won.then_some(row))
}

pub async fn enabled_key(
    db: &DatabaseConnection,
    fingerprint: &str,
) -> Result<Option<admin_key::Model>, DbErr> {
    admin_key::Entity::find()
        .filter(admin_key::Column::Fingerprint.eq(fingerprint))
        .filter(admin_key::Column::Enabled.eq(true))
        .one(db)
        .await
}

pub async fn insert_session(
    db: &DatabaseConnection,
    token_hash: String,
    admin_key_id: i32,
    now: i64,
    expires_at: i64,
) -> Result<(), DbErr> {
    admin_session::ActiveModel {
        token_hash: Set(token_hash),
        admin_key_id: Set(admin_key_id),
        expires_at: Set(expires_at),
        revoked: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// The key behind a live session: not revoked, not expired, its key still registered and
/// enabled.
pub async fn live_session(
    db: &DatabaseConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(admin_session::Model, admin_key::Model)>, DbErr> {
    let Some(session) = admin_session::Entity::find()
        .filter(admin_session::Column::TokenHash.eq(token_hash))
        .filter(admin_session::Column::Revoked.eq(false))
        .filter(admin_session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let key = admin_key::Entity::find_by_id(session.admin_key_id)
        .filter(admin_key::Column::Enabled.eq(true))
        .one(db)
        .await?;
    Ok(key.map(|k| (session, k)))
}

/// Revokes a session; false when there was no live one.
pub async fn revoke_session(db: &DatabaseConnection, token_hash: &str) -> Result<bool, DbErr> {
    Ok(admin_session::Entity::update_many()
        .col_expr(admin_session::Column::Revoked, Expr::value(true))
        .filter(admin_session::Column::TokenHash.eq(token_hash))
        .filter(admin_session::Column::Revoked.eq(false))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

pub async fn list_keys(db: &DatabaseConnection) -> Result<Vec<admin_key::Model>, DbErr> {
    admin_key::Entity::find()
        .order_by_asc(admin_key::Column::Id)
        .all(db)
        .await
}

pub async fn count_keys(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    admin_key::Entity::find().count(db).await
}

/// Registers a key; `None` when its fingerprint is already registered.
pub async fn insert_key(
    db: &DatabaseConnection,
    name: String,
    public_key: String,
    fingerprint: String,
    now: i64,
) -> Result<Option<admin_key::Model>, DbErr> {
    let exists = admin_key::Entity::find()
        .filter(admin_key::Column::Fingerprint.eq(fingerprint.as_str()))
        .count(db)
        .await?
        > 0;
    if exists {
        return Ok(None);
    }
    admin_key::ActiveModel {
        name: Set(name),
        public_key: Set(public_key),
        fingerprint: Set(fingerprint),
        enabled: Set(true),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(Some)
}

/// Why a key was not removed.
#[derive(Debug, PartialEq)]
pub enum RemoveKey {
    Removed(admin_key::Model),
    NotFound,
    LastKey,
}

/// Removes a key and its sessions, unless it is the last key. The key rows are locked
/// first (Postgres), so two admins removing the last two keys at once cannot both succeed.
pub async fn remove_key(db: &DatabaseConnection, fingerprint: &str) -> Result<RemoveKey, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM admin_keys FOR UPDATE",
        ))
        .await?;
    }
    let Some(key) = admin_key::Entity::find()
        .filter(admin_key::Column::Fingerprint.eq(fingerprint))
        .one(&txn)
        .await?
    else {
        return Ok(RemoveKey::NotFound);
    };
    if count_keys(&txn).await? <= 1 {
        return Ok(RemoveKey::LastKey);
    }
    admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdminKeyId.eq(key.id))
        .exec(&txn)
        .await?;
    admin_key::Entity::delete_by_id(key.id).exec(&txn).await?;
    txn.commit().await?;
    Ok(RemoveKey::Removed(key))
}

/// Deletes challenges and sessions that can no longer be used.
pub async fn purge_expired(db: &DatabaseConnection, now: i64) -> Result<u64, DbErr> {
    let a = login_challenge::Entity::delete_many()
        .filter(login_challenge::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    let b = admin_session::Entity::delete_many()
        .filter(admin_session::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    Ok(a + b)
}
