//! Typed columns stored as text. Reading one never fails the row: a value the code does not
//! recognise (a hand-edited row, a newer version's value) becomes an explicit state that the
//! code must treat as denying, instead of an error that would break every query returning
//! the row — one damaged token must not stop the others from loading.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, StringLen, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable, Value};

/// Implements the sea-orm value traits for a type stored as text through
/// `from_text`/`to_text`.
macro_rules! text_column {
    ($t:ty) => {
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::String(Some(Box::new(v.to_text())))
            }
        }

        impl TryGetable for $t {
            fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
                String::try_get_by(res, index).map(|s| <$t>::from_text(&s))
            }
        }

        impl ValueType for $t {
            fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
                match v {
                    Value::String(Some(s)) => Ok(<$t>::from_text(&s)),
                    _ => Err(ValueTypeErr),
                }
            }

            fn type_name() -> String {
                stringify!($t).to_string()
            }

            fn array_type() -> ArrayType {
                ArrayType::String
            }

            fn column_type() -> ColumnType {
                ColumnType::String(StringLen::None)
            }
        }

        impl Nullable for $t {
            fn null() -> Value {
                Value::String(None)
            }
        }
    };
}

/// A token's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Client,
    Admin,
    /// Not a role this build knows: the token is refused.
    Unrecognized(String),
}

impl Role {
    pub fn from_text(text: &str) -> Role {
        match text {
            "client" => Role::Client,
            "admin" => Role::Admin,
            other => Role::Unrecognized(other.to_string()),
        }
    }

    pub fn to_text(&self) -> String {
        self.as_str().to_string()
    }

    pub fn as_str(&self) -> &str {
        match self {
            Role::Client => "client",
            Role::Admin => "admin",
            Role::Unrecognized(text) => text,
        }
    }
}

text_column!(Role);

/// A list of model names or `*` globs, stored as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelList {
    Names(Vec<String>),
    /// Stored text that is not a JSON array of strings: allows and serves nothing.
    Unreadable(String),
}

impl ModelList {
    pub fn from_text(text: &str) -> ModelList {
        match serde_json::from_str(text) {
            Ok(names) => ModelList::Names(names),
            Err(_) => ModelList::Unreadable(text.to_string()),
        }
    }

    pub fn to_text(&self) -> String {
        match self {
            ModelList::Names(names) => serde_json::Value::from(names.clone()).to_string(),
            ModelList::Unreadable(text) => text.clone(),
        }
    }

    /// The names, or none at all for an unreadable list (fail closed).
    pub fn names(&self) -> &[String] {
        match self {
            ModelList::Names(names) => names,
            ModelList::Unreadable(_) => &[],
        }
    }
}

text_column!(ModelList);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_text_is_kept_as_a_denying_state() {
        assert_eq!(Role::from_text("admin"), Role::Admin);
        assert_eq!(
            Role::from_text("root"),
            Role::Unrecognized("root".to_string())
        );
        let list = ModelList::from_text(r#"["gpt-4o*","o1"]"#);
        assert_eq!(list.names().len(), 2);
        assert_eq!(ModelList::from_text(&list.to_text()), list);
        for bad in ["gpt-4o, o1", "{\"a\":1}", "[1,2]", ""] {
            assert!(ModelList::from_text(bad).names().is_empty(), "{bad}");
        }
    }
}
