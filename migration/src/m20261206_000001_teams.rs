//! Budgets an organisation runs on: teams (budgets, rate and concurrency limits, an
//! allow-list, shared by their tokens), budget periods on tokens and teams (the current
//! period's usage beside the lifetime counters; existing tokens keep a lifetime budget, so
//! their period counters start as their lifetime ones), the cluster's holds on team budgets,
//! slots and rate windows (Postgres), and budget alerts (one row per subject, threshold and
//! period: the unique key is what makes an alert fire once across a cluster).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Tokens {
    Table,
    TeamId,
    BudgetPeriod,
    PeriodStart,
    PeriodTokens,
    PeriodNano,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    Name,
    MaxTokens,
    MaxAmountNano,
    BudgetPeriod,
    Rpm,
    Tpm,
    MaxParallel,
    AllowedModels,
    Enabled,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    AmountSpentNano,
    RequestCount,
    PeriodStart,
    PeriodTokens,
    PeriodNano,
    HeldTokens,
    HeldNano,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum TeamBudgetHolds {
    Table,
    Id,
    TeamId,
    Tokens,
    Nano,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum TeamParallelHolds {
    Table,
    Id,
    TeamId,
    Slots,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum TeamRateWindows {
    Table,
    TeamId,
    WindowStart,
    Requests,
    Tokens,
}

#[derive(DeriveIden)]
enum BudgetAlerts {
    Table,
    Id,
    SubjectKind,
    SubjectId,
    ThresholdMilli,
    PeriodStart,
    Payload,
    Attempts,
    NextAttemptAt,
    DeliveredAt,
    GaveUpAt,
    CreatedAt,
}

fn counter<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Teams::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Teams::Id)
                        .integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Teams::Name).string().not_null())
                .col(ColumnDef::new(Teams::MaxTokens).big_integer().null())
                .col(ColumnDef::new(Teams::MaxAmountNano).big_integer().null())
                .col(
                    ColumnDef::new(Teams::BudgetPeriod)
                        .string()
                        .not_null()
                        .default("none"),
                )
                .col(ColumnDef::new(Teams::Rpm).integer().null())
                .col(ColumnDef::new(Teams::Tpm).integer().null())
                .col(ColumnDef::new(Teams::MaxParallel).integer().null())
                .col(ColumnDef::new(Teams::AllowedModels).string().null())
                .col(
                    ColumnDef::new(Teams::Enabled)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(counter(Teams::PromptTokens))
                .col(counter(Teams::CompletionTokens))
                .col(counter(Teams::TotalTokens))
                .col(counter(Teams::AmountSpentNano))
                .col(counter(Teams::RequestCount))
                .col(counter(Teams::PeriodStart))
                .col(counter(Teams::PeriodTokens))
                .col(counter(Teams::PeriodNano))
                .col(counter(Teams::HeldTokens))
                .col(counter(Teams::HeldNano))
                .col(ColumnDef::new(Teams::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Teams::UpdatedAt).big_integer().not_null())
                .col(ColumnDef::new(Teams::DeletedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        // A deleted team's name may be used again.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS idx_teams_name ON teams (name) \
             WHERE deleted_at IS NULL",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS idx_teams_updated ON teams (updated_at)")
            .await?;
        m.alter_table(
            Table::alter()
                .table(Tokens::Table)
                .add_column(ColumnDef::new(Tokens::TeamId).integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tokens::Table)
                .add_column(
                    ColumnDef::new(Tokens::BudgetPeriod)
                        .string()
                        .not_null()
                        .default("none"),
                )
                .to_owned(),
        )
        .await?;
        for col in [
            Tokens::PeriodStart,
            Tokens::PeriodTokens,
            Tokens::PeriodNano,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .add_column(counter(col))
                    .to_owned(),
            )
            .await?;
        }
        // A lifetime budget's period is the token's life.
        db.execute_unprepared(
            "UPDATE tokens SET period_tokens = total_tokens, period_nano = amount_spent_nano",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_tokens_team ON tokens (team_id, id) \
             WHERE team_id IS NOT NULL",
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TeamBudgetHolds::Table)
                .if_not_exists()
                .col(id(TeamBudgetHolds::Id))
                .col(ColumnDef::new(TeamBudgetHolds::TeamId).integer().not_null())
                .col(counter(TeamBudgetHolds::Tokens))
                .col(counter(TeamBudgetHolds::Nano))
                .col(
                    ColumnDef::new(TeamBudgetHolds::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TeamParallelHolds::Table)
                .if_not_exists()
                .col(id(TeamParallelHolds::Id))
                .col(
                    ColumnDef::new(TeamParallelHolds::TeamId)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TeamParallelHolds::Slots)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(TeamParallelHolds::ExpiresAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TeamRateWindows::Table)
                .if_not_exists()
                .col(ColumnDef::new(TeamRateWindows::TeamId).integer().not_null())
                .col(
                    ColumnDef::new(TeamRateWindows::WindowStart)
                        .big_integer()
                        .not_null(),
                )
                .col(counter(TeamRateWindows::Requests))
                .col(counter(TeamRateWindows::Tokens))
                .primary_key(
                    Index::create()
                        .col(TeamRateWindows::TeamId)
                        .col(TeamRateWindows::WindowStart),
                )
                .to_owned(),
        )
        .await?;
        for (name, table) in [
            ("idx_team_budget_holds_team", "team_budget_holds"),
            ("idx_team_parallel_holds_team", "team_parallel_holds"),
        ] {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON {table} (team_id)"
            ))
            .await?;
        }
        m.create_table(
            Table::create()
                .table(BudgetAlerts::Table)
                .if_not_exists()
                .col(id(BudgetAlerts::Id))
                .col(
                    ColumnDef::new(BudgetAlerts::SubjectKind)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(BudgetAlerts::SubjectId).integer().not_null())
                .col(
                    ColumnDef::new(BudgetAlerts::ThresholdMilli)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(BudgetAlerts::PeriodStart)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(BudgetAlerts::Payload).text().not_null())
                .col(
                    ColumnDef::new(BudgetAlerts::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(BudgetAlerts::NextAttemptAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(BudgetAlerts::DeliveredAt)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(BudgetAlerts::GaveUpAt).big_integer().null())
                .col(
                    ColumnDef::new(BudgetAlerts::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS idx_budget_alerts_once ON budget_alerts \
             (subject_kind, subject_id, threshold_milli, period_start)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_budget_alerts_due ON budget_alerts (next_attempt_at) \
             WHERE delivered_at IS NULL AND gave_up_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "budget_alerts",
            "team_rate_windows",
            "team_parallel_holds",
            "team_budget_holds",
            "teams",
        ] {
            m.get_connection()
                .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_tokens_team")
            .await?;
        for col in [
            Tokens::TeamId,
            Tokens::BudgetPeriod,
            Tokens::PeriodStart,
            Tokens::PeriodTokens,
            Tokens::PeriodNano,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
