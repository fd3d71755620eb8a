//! Teams: created, read, paged, changed and deleted here. A deleted team's row stays (the
//! other instances see the deletion; its name may be used again).

use entity::{team, token};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::models_to_db;

/// A validated new team.
#[derive(Debug, Clone, Default)]
pub struct NewTeam {
    pub name: String,
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub budget_period: String,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    pub allowed_models: Option<Vec<String>>,
    pub enabled: bool,
}

/// A validated partial update; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub max_tokens: Option<Option<i64>>,
    pub max_amount_nano: Option<Option<i64>>,
    pub budget_period: Option<String>,
    pub rpm: Option<Option<i32>>,
    pub tpm: Option<Option<i32>>,
    pub max_parallel: Option<Option<i32>>,
    pub allowed_models: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// Whether a live team other than `except` has `name`.
pub async fn name_taken(
    db: &DatabaseConnection,
    name: &str,
    except: Option<i32>,
) -> Result<bool, DbErr> {
    let mut q = team::Entity::find()
        .filter(team::Column::Name.eq(name))
        .filter(team::Column::DeletedAt.is_null());
    if let Some(id) = except {
        q = q.filter(team::Column::Id.ne(id));
    }
    Ok(q.count(db).await? > 0)
}

pub async fn create(db: &DatabaseConnection, new: &NewTeam) -> Result<team::Model, DbErr> {
    let now = super::db_now(db).await?;
    team::ActiveModel {
        name: Set(new.name.clone()),
        max_tokens: Set(new.max_tokens),
        max_amount_nano: Set(new.max_amount_nano),
        budget_period: Set(new.budget_period.clone()),
        rpm: Set(new.rpm),
        tpm: Set(new.tpm),
        max_parallel: Set(new.max_parallel),
        allowed_models: Set(models_to_db(&new.allowed_models)),
        enabled: Set(new.enabled),
        prompt_tokens: Set(0),
        completion_tokens: Set(0),
        total_tokens: Set(0),
        amount_spent_nano: Set(0),
        request_count: Set(0),
        period_start: Set(0),
        period_tokens: Set(0),
        period_nano: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find(db: &DatabaseConnection, id: i32) -> Result<Option<team::Model>, DbErr> {
    team::Entity::find_by_id(id)
        .filter(team::Column::DeletedAt.is_null())
        .one(db)
        .await
}

/// A page of live teams by id (after `after`, names containing `q`, at most `limit`), and
/// whether more follow.
pub async fn page(
    db: &DatabaseConnection,
    q: Option<&str>,
    after: Option<i32>,
    limit: u64,
) -> Result<(Vec<team::Model>, bool), DbErr> {
    let mut query = team::Entity::find().filter(team::Column::DeletedAt.is_null());
    if let Some(id) = after {
        query = query.filter(team::Column::Id.gt(id));
    }
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        query = query.filter(super::name_contains(team::Column::Name, q));
    }
    let mut rows = query
        .order_by_asc(team::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// How many live tokens are in team `id`.
pub async fn token_count(db: &DatabaseConnection, id: i32) -> Result<u64, DbErr> {
    token::Entity::find()
        .filter(token::Column::TeamId.eq(id))
        .filter(token::Column::DeletedAt.is_null())
        .count(db)
        .await
}

/// Applies a patch; `None` when there is no such team. Counters are never touched here,
/// except that a changed budget period starts a fresh one.
pub async fn update(
    db: &DatabaseConnection,
    id: i32,
    patch: &TeamPatch,
) -> Result<Option<team::Model>, DbErr> {
    let Some(existing) = find(db, id).await? else {
        return Ok(None);
    };
    let new_period = patch
        .budget_period
        .clone()
        .filter(|p| *p != existing.budget_period);
    let mut row = team::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id),
        ..Default::default()
    };
    if let Some(v) = &patch.name {
        row.name = Set(v.clone());
    }
    if let Some(v) = patch.max_tokens {
        row.max_tokens = Set(v);
    }
    if let Some(v) = patch.max_amount_nano {
        row.max_amount_nano = Set(v);
    }
    if let Some(v) = &new_period {
        row.budget_period = Set(v.clone());
    }
    if let Some(v) = patch.rpm {
        row.rpm = Set(v);
    }
    if let Some(v) = patch.tpm {
        row.tpm = Set(v);
    }
    if let Some(v) = patch.max_parallel {
        row.max_parallel = Set(v);
    }
    if let Some(v) = &patch.allowed_models {
        row.allowed_models = Set(models_to_db(v));
    }
    if let Some(v) = patch.enabled {
        row.enabled = Set(v);
    }
    row.updated_at = Set(super::db_now(db).await?);
    let txn = db.begin().await?;
    row.update(&txn).await?;
    if let Some(period) = new_period {
        super::counters::restart_period(&txn, "teams", id, period == "none").await?;
    }
    txn.commit().await?;
    find(db, id).await
}

/// Marks a team deleted; its tokens leave it (the caller checked `force` when it had
/// any). Returns the ids of the tokens that left, or `None` when there is no such team.
pub async fn soft_delete(db: &DatabaseConnection, id: i32) -> Result<Option<Vec<i32>>, DbErr> {
    let txn = db.begin().await?;
    let now = super::db_now(db).await?;
    let done = team::Entity::update_many()
        .col_expr(team::Column::DeletedAt, Expr::value(now))
        .col_expr(team::Column::Enabled, Expr::value(false))
        .col_expr(team::Column::UpdatedAt, Expr::value(now))
        .filter(team::Column::Id.eq(id))
        .filter(team::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(None);
    }
    let members: Vec<i32> = token::Entity::find()
        .select_only()
        .column(token::Column::Id)
        .filter(token::Column::TeamId.eq(id))
        .into_tuple()
        .all(&txn)
        .await?;
    token::Entity::update_many()
        .col_expr(token::Column::TeamId, Expr::value(Option::<i32>::None))
        .col_expr(token::Column::UpdatedAt, Expr::value(now))
        .filter(token::Column::TeamId.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Some(members))
}

/// Teams created, changed or deleted at or after `since` (`i64::MIN`: every team).
pub async fn changed_since(db: &DatabaseConnection, since: i64) -> Result<Vec<team::Model>, DbErr> {
    team::Entity::find()
        .filter(team::Column::UpdatedAt.gte(since))
        .all(db)
        .await
}

/// The names of teams `ids` (deleted ones too).
pub async fn names(
    db: &DatabaseConnection,
    ids: &[i32],
) -> Result<std::collections::HashMap<i32, String>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(team::Entity::find()
        .filter(team::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}
