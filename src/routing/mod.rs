//! Pure routing logic: model names, globs and the choice strategies.

pub mod model_name;
pub mod strategy;
pub mod table;
