//! Stored Responses-API responses: the conversation encrypted with the master key, the
//! owner token, the chain link and the time in the clear.

use entity::stored_response;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::secrets::{MasterKey, Sealed};

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

    /// What its `column` is sealed for.
    pub fn sealed<'a>(&'a self, column: &'a str) -> Sealed<'a> {
        Sealed::Conversation {
            id: &self.id,
            token_id: self.token_id,
            column,
        }
    }

    /// What it takes in the database (its two columns encrypted: a prefix, base64 of a
    /// 24-byte nonce, the text and a 16-byte tag).
    pub fn stored_bytes(&self) -> i64 {
        let sealed = |len: usize| (3 + (24 + len + 16).div_ceil(3) * 4) as i64;
        sealed(self.input.len()) + sealed(self.response.len())
    }

    pub fn input_items(&self) -> Vec<Value> {
        serde_json::from_str(&self.input).unwrap_or_default()
    }

    pub fn response_object(&self) -> Value {
        serde_json::from_str(&self.response).unwrap_or(Value::Null)
    }
}

/// An id stored already (a response, or a deletion's tombstone) keeps its row.
fn first_wins() -> OnConflict {
    OnConflict::column(stored_response::Column::Id)
        .do_nothing()
        .to_owned()
}

/// An insert's rule on a stored id: the row there stays — unless it is another token's
/// tombstone: a token cannot delete (or block) a response it does not own, not even one
/// whose insert is still in flight (a foreign DELETE of a fresh id used to leave a
/// tombstone in the owner's way, and the owner's response was lost).
fn owner_wins() -> OnConflict {
    use stored_response::Column;
    OnConflict::column(Column::Id)
        .update_columns([
            Column::TokenId,
            Column::PreviousId,
            Column::Input,
            Column::Response,
            Column::CreatedAt,
        ])
        .action_and_where(sea_orm::sea_query::Expr::cust(
            "stored_responses.response = '' AND stored_responses.token_id <> excluded.token_id",
        ))
        .to_owned()
}

/// Writes finished responses in one statement; one whose id is stored already is left as
/// it is (but for another token's tombstone, see `owner_wins`).
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
        input: Set(master.encrypt(r.sealed("input"), &r.input)),
        response: Set(master.encrypt(r.sealed("response"), &r.response)),
        created_at: Set(r.created_at),
    });
    stored_response::Entity::insert_many(rows)
        .on_conflict(owner_wins())
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
    if row.response.is_empty() {
        // A deletion's tombstone (see `delete`): nothing to serve.
        return Ok(None);
    }
    let open = |column: &str, sealed: &str| {
        let what = Sealed::Conversation {
            id,
            token_id: row.token_id,
            column,
        };
        master
            .decrypt(what, sealed)
            .map_err(|e| DbErr::Custom(format!("stored response {id}: {e}")))
    };
    Ok(Some(StoredResponse {
        input: open("input", &row.input)?,
        response: open("response", &row.response)?,
        id: row.id,
        token_id: row.token_id,
        previous_id: row.previous_id,
        created_at: row.created_at,
    }))
}

/// Deletes the response `id` of `token_id`; whether it existed. The deletion wins over an
/// insert of the same id in flight on any instance: a tombstone row (empty columns) takes
/// the id first — on Postgres it waits for an uncommitted insert of it and then finds its
/// row, which is deleted — and an insert arriving later finds the tombstone and stores
/// nothing (`insert_many` does nothing on a conflict). Tombstones go with `sweep_tombstones`.
pub async fn delete(db: &DatabaseConnection, id: &str, token_id: i32) -> Result<bool, DbErr> {
    let live = |db| async move {
        stored_response::Entity::delete_many()
            .filter(stored_response::Column::Id.eq(id))
            .filter(stored_response::Column::TokenId.eq(token_id))
            .filter(stored_response::Column::Response.ne(""))
            .exec(db)
            .await
            .map(|done| done.rows_affected > 0)
    };
    if live(db).await? {
        return Ok(true);
    }
    let tombstone = stored_response::ActiveModel {
        id: Set(id.to_string()),
        token_id: Set(token_id),
        previous_id: Set(None),
        input: Set(String::new()),
        response: Set(String::new()),
        created_at: Set(crate::time::now_ms()),
    };
    stored_response::Entity::insert(tombstone)
        .on_conflict(first_wins())
        .exec_without_returning(db)
        .await?;
    live(db).await
}

/// Removes tombstones older than `cutoff_ms` (an insert they were waiting for is long
/// over); how many.
pub async fn sweep_tombstones(db: &DatabaseConnection, cutoff_ms: i64) -> Result<u64, DbErr> {
    let done = stored_response::Entity::delete_many()
        .filter(stored_response::Column::Response.eq(""))
        .filter(stored_response::Column::CreatedAt.lt(cutoff_ms))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// The bytes a token's stored responses take (as stored: encrypted).
pub async fn bytes_of_token(db: &DatabaseConnection, token_id: i32) -> Result<i64, DbErr> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{FromQueryResult, QuerySelect};
    #[derive(FromQueryResult)]
    struct Sum {
        bytes: Option<i64>,
    }
    let sum = stored_response::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(LENGTH(input) + LENGTH(response)), 0) AS BIGINT)"),
            "bytes",
        )
        .filter(stored_response::Column::TokenId.eq(token_id))
        .into_model::<Sum>()
        .one(db)
        .await?;
    Ok(sum.and_then(|s| s.bytes).unwrap_or(0))
}

/// Deletes responses created before `cutoff_ms`; how many.
pub async fn delete_older_than(db: &DatabaseConnection, cutoff_ms: i64) -> Result<u64, DbErr> {
    let done = stored_response::Entity::delete_many()
        .filter(stored_response::Column::CreatedAt.lt(cutoff_ms))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
