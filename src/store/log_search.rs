//! Request-log pages for the admin API: newest first, filtered, with a keyset cursor so a
//! page costs the same at row 10 and at row 1,000,000.

use entity::request_log;
use sea_orm::sea_query::{Expr, IntoCondition};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// Where a page starts: strictly older than this row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (at, id) = text.split_once('.')?;
        Some(Cursor {
            created_at: at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// Success or error, as stored in `request_logs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub token_id: Option<i32>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub status: Option<Outcome>,
    pub end_user: Option<String>,
    pub session_id: Option<String>,
    /// Inclusive lower bound, Unix ms.
    pub since: Option<i64>,
    /// Exclusive upper bound, Unix ms.
    pub until: Option<i64>,
}

/// One page: up to `limit` rows and, when more exist, the cursor of the next page.
pub async fn page(
    db: &DatabaseConnection,
    filter: &LogFilter,
    cursor: Option<Cursor>,
    limit: u64,
) -> Result<(Vec<request_log::Model>, Option<Cursor>), DbErr> {
    use request_log::Column as C;
    let mut q = request_log::Entity::find();
    if let Some(id) = filter.token_id {
        q = q.filter(C::TokenId.eq(id));
    }
    if let Some(p) = &filter.provider {
        q = q.filter(C::Provider.eq(p.as_str()));
    }
    if let Some(m) = &filter.model {
        q = q.filter(C::Model.eq(m.as_str()));
    }
    if let Some(s) = filter.status {
        // A literal, not a bound value: the planners match it against the partial index
        // `… WHERE status = 'error'` (a parameter they could not prove equal to it).
        q = q.filter(Expr::cust(format!("status = '{}'", s.as_str())));
    }
    if let Some(u) = &filter.end_user {
        q = q.filter(C::EndUser.eq(u.as_str()));
    }
    if let Some(s) = &filter.session_id {
        q = q.filter(C::SessionId.eq(s.as_str()));
    }
    if let Some(t) = filter.since {
        q = q.filter(C::CreatedAt.gte(t));
    }
    if let Some(t) = filter.until {
        q = q.filter(C::CreatedAt.lt(t));
    }
    if let Some(c) = cursor {
        // Row-value comparison: one index range on (…, created_at, id).
        q = q.filter(
            Expr::tuple([Expr::col(C::CreatedAt).into(), Expr::col(C::Id).into()])
                .lt(Expr::tuple([Expr::value(c.created_at), Expr::value(c.id)]))
                .into_condition(),
        );
    }
    let mut rows = q
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor {
            created_at: r.created_at,
            id: r.id,
        })
    } else {
        None
    };
    Ok((rows, next))
}

pub async fn find(db: &DatabaseConnection, id: i64) -> Result<Option<request_log::Model>, DbErr> {
    request_log::Entity::find_by_id(id).one(db).await
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor {
            created_at: 1_700_000_000_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for junk in ["", "1", "a.b", "1.2.3", "1.x"] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }
}
