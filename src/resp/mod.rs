//! The Redis wire protocol: request parsing ([`parse`]), a request's
//! arguments and the error replies commands give ([`args`]), and reply
//! encoding ([`encode`]) for RESP2 and RESP3.

pub mod args;
pub mod encode;
pub mod parse;

pub use encode::{Out, Proto};
pub use parse::{Parsed, ProtocolError, RequestParser};
