//! Database access through the sea-orm entities, one module per aggregate.
//! Actors and the CLI call these; handlers never do.

pub mod audit;
pub mod log_search;
pub mod logs;
pub mod prices;
pub mod providers;
pub mod rollups;
pub mod sessions;
pub mod summary;
pub mod tokens;

pub use entity::columns::ModelList;

/// A model list as stored (NULL: every model).
pub fn models_to_db(models: &Option<Vec<String>>) -> Option<ModelList> {
    models.clone().map(ModelList::Names)
}

/// Reads a stored model list. Fails closed: an unreadable one (a hand-edited row, say)
/// becomes an empty list, which allows and serves nothing.
pub fn models_from_db(stored: Option<&ModelList>) -> Option<Vec<String>> {
    match stored? {
        ModelList::Names(names) => Some(names.clone()),
        ModelList::Unreadable(_) => {
            log::error!("a stored model list is not a JSON array of strings: treated as empty");
            Some(Vec::new())
        }
    }
}
