//! The differential scripts' format (tests/scripts/*.redis): one command per
//! line, split as redis-cli does, with optional `sort ` and
//! `noreply-compare ` prefixes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Exact,
    Sorted,
    NoCompare,
}

pub struct Line {
    pub number: usize,
    pub text: String,
    pub mode: Mode,
    pub args: Vec<Vec<u8>>,
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Split a line the way redis-cli does (sdssplitargs).
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let mut cur = Vec::new();
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err("unbalanced double quote".into());
                    }
                    match b[i] {
                        b'\\'
                            if i + 3 < b.len()
                                && b[i + 1] == b'x'
                                && hex_val(b[i + 2]).is_some()
                                && hex_val(b[i + 3]).is_some() =>
                        {
                            cur.push(hex_val(b[i + 2]).unwrap() * 16 + hex_val(b[i + 3]).unwrap());
                            i += 4;
                        }
                        b'\\' if i + 1 < b.len() => {
                            cur.push(match b[i + 1] {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 8,
                                b'a' => 7,
                                other => other,
                            });
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            if i < b.len() && !b[i].is_ascii_whitespace() {
                                return Err("closing quote must be followed by a space".into());
                            }
                            break;
                        }
                        c => {
                            cur.push(c);
                            i += 1;
                        }
                    }
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err("unbalanced single quote".into());
                    }
                    match b[i] {
                        b'\\' if i + 1 < b.len() && b[i + 1] == b'\'' => {
                            cur.push(b'\'');
                            i += 2;
                        }
                        b'\'' => {
                            i += 1;
                            if i < b.len() && !b[i].is_ascii_whitespace() {
                                return Err("closing quote must be followed by a space".into());
                            }
                            break;
                        }
                        c => {
                            cur.push(c);
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    cur.push(b[i]);
                    i += 1;
                }
            }
        }
        out.push(cur);
    }
}

pub fn parse_script(name: &str, text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (mode, rest) = if let Some(r) = t.strip_prefix("sort ") {
            (Mode::Sorted, r)
        } else if let Some(r) = t.strip_prefix("noreply-compare ") {
            (Mode::NoCompare, r)
        } else {
            (Mode::Exact, t)
        };
        let args = split_args(rest).unwrap_or_else(|e| panic!("{name}:{}: {e}: {t}", idx + 1));
        assert!(!args.is_empty(), "{name}:{}: empty command", idx + 1);
        lines.push(Line {
            number: idx + 1,
            text: t.to_string(),
            mode,
            args,
        });
    }
    lines
}
