//! A cursor over a request's arguments (the `Parse` of mini-redis), and the
//! error type commands return. Every error text is Redis 7.2's.

use std::borrow::Cow;

use crate::resp::parse::parse_i64;

/// A command error; the text is the reply after the `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

impl Error {
    pub const SYNTAX: Error = Error(Cow::Borrowed("ERR syntax error"));
    pub const NOT_INTEGER: Error =
        Error(Cow::Borrowed("ERR value is not an integer or out of range"));
    pub const NOT_FLOAT: Error = Error(Cow::Borrowed("ERR value is not a valid float"));
    pub const WRONG_TYPE: Error = Error(Cow::Borrowed(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    ));
    pub const NO_SUCH_KEY: Error = Error(Cow::Borrowed("ERR no such key"));
    pub const OVERFLOW: Error = Error(Cow::Borrowed("ERR increment or decrement would overflow"));
    pub const DB_RANGE: Error = Error(Cow::Borrowed("ERR DB index is out of range"));

    pub fn msg(text: impl Into<Cow<'static, str>>) -> Error {
        Error(text.into())
    }

    /// `ERR wrong number of arguments for 'name' command`.
    pub fn arity(name: &str) -> Error {
        Error(format!("ERR wrong number of arguments for '{name}' command").into())
    }

    /// `ERR unknown subcommand 'x'. Try NAME HELP.`
    pub fn unknown_subcommand(sub: &[u8], container: &str) -> Error {
        Error(
            format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                truncated(sub, 128),
                container.to_ascii_uppercase()
            )
            .into(),
        )
    }
}

/// Bytes as text for an error message, cut to `max` bytes as Redis does.
pub fn truncated(arg: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(max)]).into_owned()
}

pub type CmdResult = Result<(), Error>;

/// The arguments of one request, consumed front to back. Position 0 is the
/// command name, so a fresh cursor starts at 1.
pub struct Args<'a> {
    argv: &'a [&'a [u8]],
    pos: usize,
}

impl<'a> Args<'a> {
    pub fn new(argv: &'a [&'a [u8]]) -> Self {
        Args { argv, pos: 1 }
    }

    pub fn all(&self) -> &'a [&'a [u8]] {
        self.argv
    }

    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The rest of the arguments, consuming them.
    pub fn rest(&mut self) -> &'a [&'a [u8]] {
        let rest = &self.argv[self.pos..];
        self.pos = self.argv.len();
        rest
    }

    pub fn peek(&self) -> Option<&'a [u8]> {
        self.argv.get(self.pos).copied()
    }

    /// The next argument; a syntax error if there is none.
    pub fn next_bytes(&mut self) -> Result<&'a [u8], Error> {
        let arg = self.argv.get(self.pos).copied().ok_or(Error::SYNTAX)?;
        self.pos += 1;
        Ok(arg)
    }

    pub fn next_i64(&mut self) -> Result<i64, Error> {
        parse_i64(self.next_bytes()?).ok_or(Error::NOT_INTEGER)
    }

    /// Consumes the next argument if it equals `word` (ASCII case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(arg) if arg.eq_ignore_ascii_case(word.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }
}

/// Compares an argument with a keyword, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A request's arguments copied out of the read buffer (a command queued by
/// MULTI, or sent to another core): one allocation for all of them.
#[derive(Debug, Clone, Default)]
pub struct OwnedArgv {
    data: Vec<u8>,
    ends: smallvec::SmallVec<[usize; 8]>,
}

impl OwnedArgv {
    pub fn new(argv: &[&[u8]]) -> Self {
        let mut data = Vec::with_capacity(argv.iter().map(|a| a.len()).sum());
        let mut ends = smallvec::SmallVec::with_capacity(argv.len());
        for arg in argv {
            data.extend_from_slice(arg);
            ends.push(data.len());
        }
        OwnedArgv { data, ends }
    }

    pub fn argv(&self) -> smallvec::SmallVec<[&[u8]; 8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let arg = &self.data[start..end];
                start = end;
                arg
            })
            .collect()
    }

    /// Bytes these arguments take.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.data.capacity()
            + if self.ends.spilled() {
                self.ends.capacity() * std::mem::size_of::<usize>()
            } else {
                0
            }
    }
}
