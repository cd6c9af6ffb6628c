//! The values a key can hold. Each messaging model's data structure gets its
//! own module here (lists, streams, ...); this module ties them into [`Value`].

pub mod list;
pub mod longdouble;
/// The storage of streams (the streams issue): not yet used by any command.
pub mod stream_tree;

/// A stored value. The variant decides `TYPE` and the WRONGTYPE checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (Redis keeps integers as strings too, and so do we).
    Str(Vec<u8>),
    /// A list: a queue of compact chunks (Redis's quicklist).
    List(list::List),
}

impl Value {
    /// The name `TYPE` answers with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
        }
    }

    /// The name `OBJECT ENCODING` answers with, as Redis would pick it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) if s.len() <= 20 && crate::resp::parse::parse_i64(s).is_some() => "int",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::List(l) => l.encoding(),
        }
    }
}
