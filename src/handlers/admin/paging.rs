//! Pages of the admin lists held in memory (provider keys, redirects, prices, admin keys)
//! and the checks of pages by id (tokens, teams),
//! the way every growing admin list pages (contract section 4): `limit` (default 100, at
//! most 1,000) and an opaque `cursor` — the last item's key, hex-encoded — answered with
//! `next_cursor` (null on the last page).

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn encode(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode(cursor: &str) -> Option<String> {
    if !cursor.len().is_multiple_of(2) || cursor.len() > 2048 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The page of `items` that `query` asks for, ordered by `key`; with the next page's
/// cursor when more follow.
pub fn page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    query: &PageQuery,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
    }
    let after = query
        .cursor
        .as_deref()
        .map(|c| decode(c).ok_or_else(|| ApiError::invalid_param("cursor", "invalid cursor")))
        .transpose()?;
    items.sort_by_cached_key(|item| key(item));
    let mut items: Vec<T> = match &after {
        Some(after) => items.into_iter().filter(|i| key(i) > *after).collect(),
        None => items,
    };
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next = items.last().filter(|_| more).map(|last| encode(&key(last)));
    Ok((items, next))
}

/// What a page of a list kept in the database by integer id asks for (tokens, teams):
/// the checked `limit`, the id to continue after, and the name search.
pub struct IdPage {
    pub limit: u64,
    pub after: Option<i32>,
    pub q: Option<String>,
}

impl IdPage {
    /// Checks `limit` (1..=1000, default 100), `cursor` (an id) and `q` (≤ 200 bytes).
    pub fn of(
        limit: Option<u64>,
        cursor: Option<&str>,
        q: Option<&str>,
    ) -> Result<IdPage, ApiError> {
        let limit = limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid_param("limit", "limit must be 1..=1000"));
        }
        let after = cursor
            .map(|c| {
                c.parse::<i32>()
                    .map_err(|_| ApiError::invalid_param("cursor", "invalid cursor"))
            })
            .transpose()?;
        if q.is_some_and(|q| q.len() > 200) {
            return Err(ApiError::invalid_param("q", "q is at most 200 bytes"));
        }
        Ok(IdPage {
            limit,
            after,
            q: q.map(str::to_string),
        })
    }
}

/// A key that sorts numbers in order (`page` compares keys as text).
pub fn numeric_key(n: i64) -> String {
    format!("{:020}", n.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once_in_key_order() {
        let items: Vec<i64> = (0..250).rev().collect();
        let mut seen = Vec::new();
        let mut query = PageQuery::default();
        loop {
            let (page, next) = page(items.clone(), |n| numeric_key(*n), &query).unwrap();
            assert!(page.len() <= 100);
            seen.extend(page);
            match next {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, (0..250).collect::<Vec<_>>());
        let bad = |cursor: &str| PageQuery {
            cursor: Some(cursor.into()),
            limit: None,
        };
        assert!(page(items.clone(), |n| numeric_key(*n), &bad("zz")).is_err());
        assert!(page(items.clone(), |n| numeric_key(*n), &bad("abc")).is_err());
        let zero = PageQuery {
            limit: Some(0),
            cursor: None,
        };
        assert!(page(items, |n| numeric_key(*n), &zero).is_err());
        assert_eq!(
            decode(&encode("openai\u{0}gpt-4o")).unwrap(),
            "openai\u{0}gpt-4o"
        );
    }
}
