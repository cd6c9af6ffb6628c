//! The Redis wire protocol: request parsing ([`parse`]) and reply encoding
//! ([`encode`]) for RESP2 and RESP3.

pub mod encode;
pub mod parse;

pub use encode::{Out, Proto};
pub use parse::{Parsed, ProtocolError, RequestParser};
