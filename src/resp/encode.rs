//! Reply encoding. A command writes its reply through [`Out`], which knows the
//! connection's protocol version and picks the RESP2 or RESP3 form of each type
//! (null, map, set, double, boolean, push) the way Redis's `addReply*` family does.

thread_local! {
    /// Error replies encoded on this thread (a core): INFO's
    /// `total_error_replies`, summed over cores.
    static ERROR_REPLIES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Error replies encoded on this core since start (or CONFIG RESETSTAT).
pub fn error_replies() -> u64 {
    ERROR_REPLIES.with(|n| n.get())
}

/// CONFIG RESETSTAT's part for this core.
pub fn reset_error_replies() {
    ERROR_REPLIES.with(|n| n.set(0));
}

/// The protocol a connection speaks, chosen by `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// A reply buffer in one protocol version.
#[derive(Debug, Default)]
pub struct Out {
    pub buf: Vec<u8>,
    pub proto: Proto,
}

impl Out {
    pub fn new(proto: Proto) -> Self {
        Out {
            buf: Vec::new(),
            proto,
        }
    }

    pub fn resp3(&self) -> bool {
        self.proto == Proto::Resp3
    }

    fn header(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the text after the `-`, e.g. `ERR syntax error`;
    /// like Redis, newlines inside it are replaced by spaces so the frame stays valid.
    /// A HELP reply: the lines as simple strings, as Redis's addReplyHelp.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        lines.iter().for_each(|l| self.simple(l));
    }

    pub fn error(&mut self, msg: &str) {
        ERROR_REPLIES.with(|n| n.set(n.get() + 1));
        self.buf.push(b'-');
        self.buf.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_opt(&mut self, data: Option<&[u8]>) {
        match data {
            Some(d) => self.bulk(d),
            None => self.null(),
        }
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3() { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3() { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `pairs` entries: `%n` in RESP3, a flat array of 2n in RESP2.
    pub fn map(&mut self, pairs: usize) {
        if self.resp3() {
            self.header(b'%', pairs as i64);
        } else {
            self.header(b'*', 2 * pairs as i64);
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        let prefix = if self.resp3() { b'~' } else { b'*' };
        self.header(prefix, len as i64);
    }

    /// An out-of-band message (pub/sub): `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        let prefix = if self.resp3() { b'>' } else { b'*' };
        self.header(prefix, len as i64);
    }

    pub fn boolean(&mut self, b: bool) {
        if self.resp3() {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A double: `,x` in RESP3, a bulk string in RESP2, formatted as Redis does.
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        if self.resp3() {
            self.buf.push(b',');
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Free text such as INFO's: a verbatim string (`=n\r\ntxt:...`) in RESP3,
    /// a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3() {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        self.bulk(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Formats a double the way Redis 7.2 replies with one (`d2string`): `nan`,
/// `inf`, `-inf`, `0` / `-0`; an integral value within +-2^62 as an integer;
/// otherwise the shortest digits that read back as the same double, laid
/// out by the rules of Redis's `fpconv_dtoa`: plain digits (with up to a
/// few zeros) for integers, a plain decimal for fractions down to 1e-6, and
/// `d.ddde+X` / `d.ddde-X` (exponent without padding) beyond that.
///
/// Redis 7.0 used `%.17g` instead, which shows 17 significant digits
/// (`0.1` is `0.10000000000000001` there); values exact in few digits
/// (1.5, 0.25, 100) read the same in both.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Redis's double2ll: integral values in +-(LLONG_MAX / 2) print as integers.
    let half = (i64::MAX / 2) as f64;
    if (-half..=half).contains(&d) && d.fract() == 0.0 {
        return itoa::Buffer::new().format(d as i64).to_string();
    }
    // The shortest round-trip digits and the decimal exponent of the first.
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp10) = sci.split_once('e').expect("exponent form");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let e: i64 = exp10.parse().expect("exponent");
    let n = digits.len() as i64;
    // The value is digits * 10^k.
    let k = e - (n - 1);
    let mut out = String::with_capacity(24);
    if d < 0.0 {
        out.push('-');
    }
    let exp = e.abs();
    if k >= 0 && exp < n + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
    } else if k < 0 && (k > -7 || exp < 4) {
        let point = n + k;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(itoa::Buffer::new().format(exp));
    }
    out
}

/// `parts` as RESP bulk strings, appended to `buf` (frames built outside an
/// [`Out`]: a pub/sub message, a log record).
pub fn bulks(buf: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut num = itoa::Buffer::new();
    for part in parts {
        buf.push(b'$');
        buf.extend_from_slice(num.format(part.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(part);
        buf.extend_from_slice(b"\r\n");
    }
}

/// `argv` as a command: a RESP array of bulk strings (what a client sends,
/// and what Redis's AOF holds).
pub fn command(buf: &mut Vec<u8>, argv: &[&[u8]]) {
    buf.push(b'*');
    buf.extend_from_slice(itoa::Buffer::new().format(argv.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    bulks(buf, argv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_maps_follow_protocol() {
        let mut o2 = Out::new(Proto::Resp2);
        o2.null();
        o2.null_array();
        o2.map(2);
        o2.boolean(true);
        assert_eq!(o2.buf, b"$-1\r\n*-1\r\n*4\r\n:1\r\n");
        let mut o3 = Out::new(Proto::Resp3);
        o3.null();
        o3.null_array();
        o3.map(2);
        o3.boolean(true);
        assert_eq!(o3.buf, b"_\r\n_\r\n%2\r\n#t\r\n");
    }

    #[test]
    fn errors_cannot_break_framing() {
        let mut o = Out::new(Proto::Resp2);
        o.error("ERR bad\r\nthing");
        assert_eq!(o.buf, b"-ERR bad  thing\r\n");
    }

    #[test]
    fn doubles() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(1e300), "1e+300");
        assert_eq!(format_double(1.5e-7), "1.5e-7");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e-6), "0.000001");
        assert_eq!(format_double(1.25e-6), "1.25e-6");
        assert_eq!(format_double(123.456), "123.456");
        assert_eq!(format_double(4e18), "4000000000000000000");
        assert_eq!(format_double(1e19), "1e+19");
        assert_eq!(format_double(1.5e19), "1.5e+19");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(
            format_double(-1.7976931348623157e308),
            "-1.7976931348623157e+308"
        );
        assert_eq!(format_double(5e-324), "5e-324");
        assert_eq!(format_double(1234.5e-10), "1.2345e-7");
    }
}
