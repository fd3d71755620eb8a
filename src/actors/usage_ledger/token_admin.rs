//! The admin API's token operations, done by the `UsageLedger`: each writes the row,
//! announces the change to the other instances and puts the result in force here.

use actix::prelude::*;
use entity::token;

use super::UsageLedger;
use crate::accounting::{PeriodSpend, Totals};
use crate::error::ApiError;
use crate::store::changes::{self, Change};
use crate::store::teams;
use crate::store::tokens::{self as store, NewToken, TokenPatch};

/// A token row as the admin API shows it, with counters from memory where they are fresher.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub row: token::Model,
    /// Lifetime counters.
    pub totals: Totals,
    /// The current period's usage and its end.
    pub period: PeriodSpend,
    pub resets_at: Option<i64>,
}

/// A page of tokens: after `after`, names containing `q`, at most `limit`; with the id to
/// continue after when more follow.
#[derive(Message)]
#[rtype(result = "Result<(Vec<TokenRecord>, Option<i32>), ApiError>")]
pub struct ListTokens {
    pub q: Option<String>,
    pub team_id: Option<i32>,
    pub after: Option<i32>,
    pub limit: u64,
}

impl Handler<ListTokens> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(Vec<TokenRecord>, Option<i32>), ApiError>>;

    fn handle(&mut self, msg: ListTokens, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::page(&db, msg.q.as_deref(), msg.team_id, msg.after, msg.limit).await }
                .into_actor(self)
                .map(|res, act, _| {
                    let (rows, more) =
                        res.map_err(|e| ApiError::internal("cannot list tokens", e))?;
                    let next = rows.last().filter(|_| more).map(|r| r.id);
                    Ok((rows.into_iter().map(|r| act.record_of(r)).collect(), next))
                }),
        )
    }
}

/// A `team_id` names a live team, or the call is a 400 naming the field.
async fn team_exists(
    db: &sea_orm::DatabaseConnection,
    team_id: Option<i32>,
) -> Result<Result<(), ApiError>, sea_orm::DbErr> {
    let Some(id) = team_id else {
        return Ok(Ok(()));
    };
    Ok(match teams::find(db, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid_param(
            "team_id",
            format!("there is no team {id}"),
        )),
    })
}

#[derive(Message)]
#[rtype(result = "Result<TokenRecord, ApiError>")]
pub struct GetToken {
    pub id: i32,
}

fn token_not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("token {id} not found"))
}

impl Handler<GetToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TokenRecord, ApiError>>;

    fn handle(&mut self, msg: GetToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::find(&db, msg.id).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    let row = res
                        .map_err(|e| ApiError::internal("cannot read token", e))?
                        .ok_or_else(|| token_not_found(msg.id))?;
                    Ok(act.record_of(row))
                }),
        )
    }
}

/// Creates a token; answers with its row and the plaintext (never stored).
#[derive(Message)]
#[rtype(result = "Result<(TokenRecord, String), ApiError>")]
pub struct CreateToken(pub NewToken);

impl Handler<CreateToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(TokenRecord, String), ApiError>>;

    fn handle(&mut self, msg: CreateToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                if let Err(e) = team_exists(&db, msg.0.team_id).await? {
                    return Ok(Err(e));
                }
                let created = store::create(&db, &msg.0, None).await?;
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>(Ok(created))
            }
            .into_actor(self)
            .map(|res, act, _| {
                let (row, plain) =
                    res.map_err(|e| ApiError::internal("cannot create token", e))??;
                act.state.upsert(&row);
                Ok((act.record_of(row), plain))
            }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<TokenRecord, ApiError>")]
pub struct UpdateToken {
    pub id: i32,
    pub patch: TokenPatch,
}

impl Handler<UpdateToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TokenRecord, ApiError>>;

    fn handle(&mut self, msg: UpdateToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                if let Err(e) = team_exists(&db, msg.patch.team_id.flatten()).await? {
                    return Ok(Err(e));
                }
                let row = store::update(&db, msg.id, &msg.patch).await?;
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>(Ok(row))
            }
            .into_actor(self)
            .map(move |res, act, _| {
                let row = res
                    .map_err(|e| ApiError::internal("cannot update token", e))??
                    .ok_or_else(|| token_not_found(msg.id))?;
                act.state.upsert(&row);
                Ok(act.record_of(row))
            }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct DeleteToken {
    pub id: i32,
}

impl Handler<DeleteToken> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: DeleteToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                let found = store::soft_delete(&db, msg.id).await?;
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>(found)
            }
            .into_actor(self)
            .map(move |res, act, _| {
                if !res.map_err(|e| ApiError::internal("cannot delete token", e))? {
                    return Err(token_not_found(msg.id));
                }
                act.state.forget(msg.id);
                Ok(())
            }),
        )
    }
}
