//! Stored Responses-API responses: the conversation encrypted with the master key, the
//! owner token, the chain link and the time in the clear.

use entity::stored_response;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::secrets::MasterKey;

/// One stored response, decrypted; its JSON is kept as text (written once, parsed only
/// where a reader needs the items).
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub id: String,
    pub token_id: i32,
    pub previous_id: Option<String>,
    /// The call's own input items, a JSON array.
    pub input: String,
    /// The response object, JSON.
    pub response: String,
    pub created_at: i64,
}

impl StoredResponse {
    /// What loading it costs a chain, bytes.
    pub fn bytes(&self) -> i64 {
        (self.input.len() + self.response.len()) as i64
    }

    pub fn input_items(&self) -> Vec<Value> {
        serde_json::from_str(&self.input).unwrap_or_default()
    }

    pub fn response_object(&self) -> Value {
        serde_json::from_str(&self.response).unwrap_or(Value::Null)
    }
}

/// Writes finished responses in one statement; one whose id is stored already is left as
/// it is.
pub async fn insert_many(
    db: &DatabaseConnection,
    master: &MasterKey,
    responses: &[std::sync::Arc<StoredResponse>],
) -> Result<(), DbErr> {
    if responses.is_empty() {
        return Ok(());
    }
    let rows = responses.iter().map(|r| stored_response::ActiveModel {
        id: Set(r.id.clone()),
        token_id: Set(r.token_id),
        previous_id: Set(r.previous_id.clone()),
        input: Set(master.encrypt(&r.input)),
        response: Set(master.encrypt(&r.response)),
        created_at: Set(r.created_at),
    });
    stored_response::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(stored_response::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The response named `id`, if it exists and decrypts.
pub async fn get(
    db: &DatabaseConnection,
    master: &MasterKey,
    id: &str,
) -> Result<Option<StoredResponse>, DbErr> {
    let Some(row) = stored_response::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let open = |sealed: &str| {
        master
            .decrypt(sealed)
            .map_err(|e| DbErr::Custom(format!("stored response {id}: {e}")))
    };
    Ok(Some(StoredResponse {
        input: open(&row.input)?,
        response: open(&row.response)?,
        id: row.id,
        token_id: row.token_id,
        previous_id: row.previous_id,
        created_at: row.created_at,
    }))
}

/// Deletes the response `id` of `token_id`; whether it existed.
pub async fn delete(db: &DatabaseConnection, id: &str, token_id: i32) -> Result<bool, DbErr> {
    let done = stored_response::Entity::delete_many()
        .filter(stored_response::Column::Id.eq(id))
        .filter(stored_response::Column::TokenId.eq(token_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Deletes responses created before `cutoff_ms`; how many.
pub async fn delete_older_than(db: &DatabaseConnection, cutoff_ms: i64) -> Result<u64, DbErr> {
    let done = stored_response::Entity::delete_many()
        .filter(stored_response::Column::CreatedAt.lt(cutoff_ms))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
