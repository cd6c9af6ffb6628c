//! Request parsing: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! commands (`GET k\r\n`), exactly as Redis's `processMultibulkBuffer` and
//! `processInlineBuffer` accept them, with Redis's protocol error texts.
//!
//! The parser is resumable: when a large multibulk request arrives in many reads,
//! the bulks already framed are remembered so each read costs only the new bytes.
//! All offsets it keeps are relative to the start of the request, so the caller
//! may move the unparsed tail of its buffer to the front between calls.

use smallvec::SmallVec;

/// Longest inline request, and longest `*<n>` / `$<n>` header line (Redis's
/// PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Limits Redis applies before a client has authenticated.
const UNAUTH_MAX_MULTIBULK: u64 = 10;
const UNAUTH_MAX_BULK: u64 = 16 * 1024;

/// A protocol violation. Redis replies `-ERR Protocol error: <msg>` and closes
/// the connection after the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// What one call to [`RequestParser::parse`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request of `consumed` bytes; its arguments are in [`RequestParser::args`].
    Request { consumed: usize },
    /// An empty request (`*0\r\n`, `*-1\r\n`, a blank inline line): skip `consumed` bytes.
    Empty { consumed: usize },
    /// More bytes are needed; the request will be at least `need` bytes long.
    Incomplete { need: usize },
}

/// Offsets are `usize`: with `proto-max-bulk-len` above 4 GB one argument,
/// or a request, may pass what 32 bits hold.
#[derive(Clone, Copy)]
enum Span {
    /// Offset and length in the request bytes.
    Input(usize, usize),
    /// Offset and length in the parser's inline arena (unescaped quoted args).
    Arena(usize, usize),
}

/// Resumable request parser; one per connection.
pub struct RequestParser {
    max_bulk_len: u64,
    spans: SmallVec<[Span; 8]>,
    arena: Vec<u8>,
    /// Multibulk in progress: bulks still to frame and where the next one starts.
    in_progress: Option<(u64, usize)>,
}

impl RequestParser {
    pub fn new(max_bulk_len: u64) -> Self {
        RequestParser {
            max_bulk_len,
            spans: SmallVec::new(),
            arena: Vec::new(),
            in_progress: None,
        }
    }

    pub fn set_max_bulk_len(&mut self, max: u64) {
        self.max_bulk_len = max;
    }

    /// Parses the request at the front of `input`. `authenticated` selects
    /// Redis's stricter size limits for clients that have not yet passed AUTH.
    pub fn parse(&mut self, input: &[u8], authenticated: bool) -> Result<Parsed, ProtocolError> {
        if input.is_empty() {
            return Ok(Parsed::Incomplete { need: 1 });
        }
        if self.in_progress.is_some() || input[0] == b'*' {
            self.parse_multibulk(input, authenticated)
        } else {
            self.parse_inline(input)
        }
    }

    /// The arguments of the request last returned as [`Parsed::Request`];
    /// `input` must be the same bytes that were given to `parse`.
    pub fn args<'a>(&'a self, input: &'a [u8]) -> SmallVec<[&'a [u8]; 8]> {
        self.spans
            .iter()
            .map(|span| match *span {
                Span::Input(off, len) => &input[off..off + len],
                Span::Arena(off, len) => &self.arena[off..off + len],
            })
            .collect()
    }

    fn parse_multibulk(
        &mut self,
        input: &[u8],
        authenticated: bool,
    ) -> Result<Parsed, ProtocolError> {
        let (mut remaining, mut pos) = match self.in_progress {
            Some(state) => state,
            None => {
                let Some(header_end) = header_line(input, 0) else {
                    if input.len() > INLINE_MAX {
                        return Err(ProtocolError("too big mbulk count string".into()));
                    }
                    return Ok(Parsed::Incomplete {
                        need: input.len() + 1,
                    });
                };
                let count = parse_i64(&input[1..header_end]);
                let count = match count {
                    Some(n) if n <= i32::MAX as i64 => n,
                    _ => return Err(ProtocolError("invalid multibulk length".into())),
                };
                if !authenticated && count > UNAUTH_MAX_MULTIBULK as i64 {
                    return Err(ProtocolError("unauthenticated multibulk length".into()));
                }
                if count <= 0 {
                    return Ok(Parsed::Empty {
                        consumed: header_end + 2,
                    });
                }
                self.spans.clear();
                (count as u64, header_end + 2)
            }
        };
        while remaining > 0 {
            let Some(header_end) = header_line(input, pos) else {
                self.in_progress = Some((remaining, pos));
                if input.len() - pos > INLINE_MAX {
                    self.in_progress = None;
                    return Err(ProtocolError("too big bulk count string".into()));
                }
                return Ok(Parsed::Incomplete {
                    need: input.len() + 1,
                });
            };
            if input[pos] != b'$' {
                self.in_progress = None;
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    input[pos] as char
                )));
            }
            let len = match parse_i64(&input[pos + 1..header_end]) {
                Some(n) if n >= 0 && (n as u64) <= self.max_bulk_len => n as usize,
                _ => {
                    self.in_progress = None;
                    return Err(ProtocolError("invalid bulk length".into()));
                }
            };
            if !authenticated && len as u64 > UNAUTH_MAX_BULK {
                self.in_progress = None;
                return Err(ProtocolError("unauthenticated bulk length".into()));
            }
            let start = header_end + 2;
            let end = start + len + 2;
            if input.len() < end {
                self.in_progress = Some((remaining, pos));
                return Ok(Parsed::Incomplete { need: end });
            }
            self.spans.push(Span::Input(start, len));
            pos = end;
            remaining -= 1;
        }
        self.in_progress = None;
        Ok(Parsed::Request { consumed: pos })
    }

    fn parse_inline(&mut self, input: &[u8]) -> Result<Parsed, ProtocolError> {
        // Redis finds the end of an inline request with `strchr`, which stops
        // at a NUL byte: a line with a NUL before its newline never ends, and
        // waits for more input until it is too big.
        let end = input.iter().position(|&b| b == b'\n' || b == 0);
        let Some(newline) = end.filter(|&at| input[at] == b'\n') else {
            if input.len() > INLINE_MAX {
                return Err(ProtocolError("too big inline request".into()));
            }
            return Ok(Parsed::Incomplete {
                need: input.len() + 1,
            });
        };
        let mut line = &input[..newline];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.spans.clear();
        self.arena.clear();
        split_inline_args(line, &mut self.arena, &mut self.spans)
            .ok_or_else(|| ProtocolError("unbalanced quotes in request".into()))?;
        if self.spans.is_empty() {
            return Ok(Parsed::Empty {
                consumed: newline + 1,
            });
        }
        Ok(Parsed::Request {
            consumed: newline + 1,
        })
    }
}

/// Finds the end (the index of `\r`) of the header line starting at `pos`.
/// Like Redis, a `\r` must be followed by one more byte before the line counts.
fn header_line(input: &[u8], pos: usize) -> Option<usize> {
    let cr = memchr(b'\r', &input[pos..])? + pos;
    (cr + 1 < input.len()).then_some(cr)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces, and
/// no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] => return if negative { None } else { Some(0) },
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Splits a line into words as an inline request would be (for config files).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut arena = Vec::new();
    let mut spans = SmallVec::new();
    split_inline_args(line, &mut arena, &mut spans)?;
    Some(
        spans
            .iter()
            .map(|span| match *span {
                Span::Arena(off, len) | Span::Input(off, len) => arena[off..off + len].to_vec(),
            })
            .collect(),
    )
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c)
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline line into arguments as Redis's `sdssplitargs` does:
/// whitespace separates, `"..."` takes C escapes (`\n`, `\xHH`, ...), `'...'`
/// takes only `\'`, and a closing quote must be followed by a space or the end.
/// Returns `None` for unbalanced quotes.
fn split_inline_args(
    line: &[u8],
    arena: &mut Vec<u8>,
    spans: &mut SmallVec<[Span; 8]>,
) -> Option<()> {
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Some(());
        }
        let start = arena.len();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = line.get(i).copied();
            if in_double {
                match c {
                    None => return None,
                    Some(b'\\') if i + 3 < line.len() && line[i + 1] == b'x' => {
                        match (hex_digit(line[i + 2]), hex_digit(line[i + 3])) {
                            (Some(h), Some(l)) => {
                                arena.push(h * 16 + l);
                                i += 3;
                            }
                            _ => arena.push(b'\\'),
                        }
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        arena.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if i + 1 < line.len() && !is_space(line[i + 1]) {
                            return None;
                        }
                        in_double = false;
                        i += 1;
                        break;
                    }
                    Some(other) => arena.push(other),
                }
            } else if in_single {
                match c {
                    None => return None,
                    Some(b'\\') if i + 1 < line.len() && line[i + 1] == b'\'' => {
                        i += 1;
                        arena.push(b'\'');
                    }
                    Some(b'\'') => {
                        if i + 1 < line.len() && !is_space(line[i + 1]) {
                            return None;
                        }
                        in_single = false;
                        i += 1;
                        break;
                    }
                    Some(other) => arena.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if is_space(b) => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => arena.push(other),
                }
            }
            i += 1;
        }
        debug_assert!(!in_double && !in_single);
        spans.push(Span::Arena(start, arena.len() - start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new(512 * 1024 * 1024);
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            match p.parse(&input[pos..], true)? {
                Parsed::Request { consumed } => {
                    out.push(p.args(&input[pos..]).iter().map(|a| a.to_vec()).collect());
                    pos += consumed;
                }
                Parsed::Empty { consumed } => pos += consumed,
                Parsed::Incomplete { .. } => break,
            }
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let got =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nSET a \"b c\\x41\" 'd\\'e'\r\n*0\r\nPING\n")
                .unwrap();
        assert_eq!(
            got,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![
                    b"SET".to_vec(),
                    b"a".to_vec(),
                    b"b cA".to_vec(),
                    b"d'e".to_vec()
                ],
                vec![b"PING".to_vec()],
            ]
        );
    }

    #[test]
    fn protocol_errors_match_redis() {
        let err = |input: &[u8]| parse_all(input).unwrap_err().reply_text();
        assert_eq!(
            err(b"*abc\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*1\r\nfoo\r\n"),
            "ERR Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            err(b"*1\r\n$-5\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"SET \"a\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(b"SET \"a\"b\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        let mut big = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(err(&big), "ERR Protocol error: too big inline request");
        big[0] = b'*';
        assert_eq!(err(&big), "ERR Protocol error: too big mbulk count string");
    }

    #[test]
    fn inline_nul_never_ends_the_line() {
        // As redis-server: `GET\0k\r\n` waits for more input, then is too big.
        let mut p = RequestParser::new(1 << 20);
        assert!(matches!(
            p.parse(b"GET\x00k\r\n", true),
            Ok(Parsed::Incomplete { .. })
        ));
        let mut big = b"GET\x00k\r\n".to_vec();
        big.resize(INLINE_MAX + 10, b'a');
        assert_eq!(
            p.parse(&big, true).unwrap_err().reply_text(),
            "ERR Protocol error: too big inline request"
        );
        // A NUL after the newline belongs to the next request.
        assert!(matches!(
            p.parse(b"PING\r\n\x00", true),
            Ok(Parsed::Request { consumed: 6 })
        ));
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::new(512 * 1024 * 1024);
        assert!(p.parse(b"*11\r\n", false).is_err());
        assert!(p.parse(b"*1\r\n$16385\r\n", false).is_err());
        assert!(p.parse(b"*1\r\n$16385\r\n", true).is_ok());
    }

    #[test]
    fn resumes_across_reads() {
        let whole = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new(1 << 20);
        for cut in 1..whole.len() {
            assert!(matches!(
                p.parse(&whole[..cut], true),
                Ok(Parsed::Incomplete { .. })
            ));
        }
        assert_eq!(
            p.parse(whole, true),
            Ok(Parsed::Request {
                consumed: whole.len()
            })
        );
        assert_eq!(p.args(whole).len(), 3);
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"-0",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Every request in `input`, parsed the way a connection does: from the
    /// front, dropping consumed bytes, feeding `chunks` of input at a time.
    fn parse_stream(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::new(1 << 20);
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut fed = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        for cut in cuts {
            if cut < fed {
                continue;
            }
            buf.extend_from_slice(&input[fed..cut]);
            fed = cut;
            loop {
                match parser.parse(&buf, true)? {
                    Parsed::Request { consumed } => {
                        out.push(parser.args(&buf).iter().map(|a| a.to_vec()).collect());
                        buf.drain(..consumed);
                    }
                    Parsed::Empty { consumed } => {
                        buf.drain(..consumed);
                    }
                    Parsed::Incomplete { .. } => break,
                }
            }
        }
        Ok(out)
    }

    fn encode(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_stream(&input, &[]);
            let _ = parse_stream(&input, &[1, 7, 33]);
        }

        #[test]
        fn split_anywhere_parses_like_whole(
            requests in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let input: Vec<u8> = requests.iter().flat_map(|r| encode(r)).collect();
            let whole = parse_stream(&input, &[]).unwrap();
            prop_assert_eq!(&whole, &requests);
            let split = parse_stream(&input, &cuts).unwrap();
            prop_assert_eq!(split, requests);
        }

        #[test]
        fn inline_split_anywhere(words in proptest::collection::vec("[a-z0-9]{1,8}", 1..6), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
            let line = format!("{}\r\n", words.join(" "));
            let expected: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
            prop_assert_eq!(parse_stream(line.as_bytes(), &cuts).unwrap(), vec![expected]);
        }
    }
}
