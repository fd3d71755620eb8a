//! The admin API's team operations, done by the `UsageLedger` (which keeps the teams'
//! accounts): each writes the row, announces the change to the other instances and puts
//! the result in force here.

use actix::prelude::*;
use entity::team;

use super::UsageLedger;
use crate::accounting::ledger::teams::{team_period, team_totals};
use crate::accounting::period::BudgetPeriod;
use crate::accounting::{PeriodSpend, Totals};
use crate::error::ApiError;
use crate::store::changes::{self, Change};
use crate::store::teams::{self as store, NewTeam, TeamPatch};

/// A team as the admin API shows it, with counters from memory where they are fresher.
#[derive(Debug, Clone)]
pub struct TeamRecord {
    pub row: team::Model,
    pub totals: Totals,
    pub period: PeriodSpend,
    pub resets_at: Option<i64>,
}

fn team_not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("team {id} not found"))
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!("a team named '{name}' exists"))
}

impl UsageLedger {
    fn team_record(&self, row: team::Model) -> TeamRecord {
        self.state.learn_team_totals(&row);
        let (totals, period, resets_at) = match self.state.team_state(row.id) {
            Some(s) => (s.totals, s.period, s.resets_at),
            None => {
                let (period, resets_at) = self.state.period_now(
                    BudgetPeriod::from_stored(&row.budget_period),
                    row.created_at,
                    team_period(&row),
                );
                (team_totals(&row), period, resets_at)
            }
        };
        TeamRecord {
            row,
            totals,
            period,
            resets_at,
        }
    }
}

/// A page of teams: after `after`, names containing `q`, at most `limit`; with the id to
/// continue after when more follow.
#[derive(Message)]
#[rtype(result = "Result<(Vec<TeamRecord>, Option<i32>), ApiError>")]
pub struct ListTeams {
    pub q: Option<String>,
    pub after: Option<i32>,
    pub limit: u64,
}

impl Handler<ListTeams> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(Vec<TeamRecord>, Option<i32>), ApiError>>;

    fn handle(&mut self, msg: ListTeams, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::page(&db, msg.q.as_deref(), msg.after, msg.limit).await }
                .into_actor(self)
                .map(|res, act, _| {
                    let (rows, more) =
                        res.map_err(|e| ApiError::internal("cannot list teams", e))?;
                    let next = rows.last().filter(|_| more).map(|r| r.id);
                    Ok((rows.into_iter().map(|r| act.team_record(r)).collect(), next))
                }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<TeamRecord, ApiError>")]
pub struct GetTeam {
    pub id: i32,
}

impl Handler<GetTeam> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TeamRecord, ApiError>>;

    fn handle(&mut self, msg: GetTeam, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { store::find(&db, msg.id).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    let row = res
                        .map_err(|e| ApiError::internal("cannot read team", e))?
                        .ok_or_else(|| team_not_found(msg.id))?;
                    Ok(act.team_record(row))
                }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<TeamRecord, ApiError>")]
pub struct CreateTeam(pub NewTeam);

impl Handler<CreateTeam> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TeamRecord, ApiError>>;

    fn handle(&mut self, msg: CreateTeam, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                if store::name_taken(&db, &msg.0.name, None).await? {
                    return Ok(Err(name_taken(&msg.0.name)));
                }
                let row = store::create(&db, &msg.0).await?;
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>(Ok(row))
            }
            .into_actor(self)
            .map(|res, act, _| {
                let row = res.map_err(|e| ApiError::internal("cannot create team", e))??;
                act.state.upsert_team(&row);
                Ok(act.team_record(row))
            }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<TeamRecord, ApiError>")]
pub struct UpdateTeam {
    pub id: i32,
    pub patch: TeamPatch,
}

impl Handler<UpdateTeam> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<TeamRecord, ApiError>>;

    fn handle(&mut self, msg: UpdateTeam, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                if let Some(name) = &msg.patch.name {
                    if store::name_taken(&db, name, Some(msg.id)).await? {
                        return Ok(Err(name_taken(name)));
                    }
                }
                let row = store::update(&db, msg.id, &msg.patch).await?;
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>(Ok(row))
            }
            .into_actor(self)
            .map(move |res, act, _| {
                let row = res
                    .map_err(|e| ApiError::internal("cannot update team", e))??
                    .ok_or_else(|| team_not_found(msg.id))?;
                act.state.upsert_team(&row);
                Ok(act.team_record(row))
            }),
        )
    }
}

/// Deletes a team; one with tokens only with `force` (its tokens leave it). Answers how
/// many tokens left.
#[derive(Message)]
#[rtype(result = "Result<usize, ApiError>")]
pub struct DeleteTeam {
    pub id: i32,
    pub force: bool,
}

impl Handler<DeleteTeam> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<usize, ApiError>>;

    fn handle(&mut self, msg: DeleteTeam, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                let members = store::token_count(&db, msg.id).await?;
                if members > 0 && !msg.force {
                    return Ok(Err(ApiError::Conflict(format!(
                        "team {} has {members} token(s): delete with ?force=true to take them \
                         out of it",
                        msg.id
                    ))));
                }
                let left = store::soft_delete(&db, msg.id).await?;
                // The tokens that left are re-read so their new settings are in force here.
                let mut rows = Vec::new();
                for id in left.iter().flatten() {
                    rows.extend(crate::store::tokens::find(&db, *id).await?);
                }
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>(Ok((left, rows)))
            }
            .into_actor(self)
            .map(move |res, act, _| {
                let (left, rows) =
                    res.map_err(|e| ApiError::internal("cannot delete team", e))??;
                let left = left.ok_or_else(|| team_not_found(msg.id))?;
                for row in rows {
                    act.state.upsert(&row);
                }
                act.state.forget_team(msg.id);
                Ok(left.len())
            }),
        )
    }
}
