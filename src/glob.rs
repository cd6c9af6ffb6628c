//! Glob matching exactly as Redis's `stringmatchlen` (KEYS, SCAN MATCH,
//! CONFIG GET, PSUBSCRIBE): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes,
//! and Redis's handling of malformed brackets. Abusive patterns cannot stall a
//! core: once the text after a `*` fails at every position, no earlier `*` is
//! retried (Redis's fix for CVE-2022-36021), and recursion depth is bounded.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let same = |a: &[u8], b: &[u8]| {
        if nocase {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    // The literal prefix before the first special character is compared
    // directly; a pattern that is all literal is a plain comparison.
    let literal = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    if literal == pattern.len() {
        return same(pattern, text);
    }
    if text.len() < literal || !same(&pattern[..literal], &text[..literal]) {
        return false;
    }
    let (rest, text) = (&pattern[literal..], &text[literal..]);
    if text.is_empty() {
        // What Redis's loop does once the text runs out after a literal
        // character: skip the stars that follow, then the pattern must be done.
        return literal > 0 && rest.iter().all(|&b| b == b'*');
    }
    let mut skip_longer = false;
    match_impl(rest, text, nocase, &mut skip_longer, 0)
}

/// The pattern byte at `i`, or 0 past the end (Redis's patterns are
/// NUL-terminated, and its matcher relies on reading that terminator).
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_impl(pat: &[u8], text: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    let (mut p, mut plen) = (0usize, pat.len());
    let (mut s, mut slen) = (0usize, text.len());
    while plen > 0 && slen > 0 {
        match pat[p] {
            b'*' => {
                while plen > 0 && at(pat, p + 1) == b'*' {
                    p += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if match_impl(
                        &pat[p + 1..p + plen],
                        &text[s..s + slen],
                        nocase,
                        skip_longer,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                    slen -= 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s += 1;
                slen -= 1;
            }
            b'[' => {
                p += 1;
                plen -= 1;
                let not = at(pat, p) == b'^';
                if not {
                    p += 1;
                    plen -= 1;
                }
                let c = text[s];
                let mut matched = false;
                loop {
                    if at(pat, p) == b'\\' && plen >= 2 {
                        p += 1;
                        plen -= 1;
                        if at(pat, p) == c {
                            matched = true;
                        }
                    } else if at(pat, p) == b']' {
                        break;
                    } else if plen == 0 {
                        p -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(pat, p + 1) == b'-' {
                        let (mut start, mut end) = (at(pat, p), at(pat, p + 2));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let (start, end, c) =
                            (fold(start, nocase), fold(end, nocase), fold(c, nocase));
                        p += 2;
                        plen -= 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if fold(at(pat, p), nocase) == fold(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                    plen -= 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
                slen -= 1;
            }
            other => {
                let mut want = other;
                if other == b'\\' && plen >= 2 {
                    p += 1;
                    plen -= 1;
                    want = at(pat, p);
                }
                if fold(want, nocase) != fold(text[s], nocase) {
                    return false;
                }
                s += 1;
                slen -= 1;
            }
        }
        p += 1;
        plen = plen.wrapping_sub(1);
        if slen == 0 {
            while at(pat, p) == b'*' {
                p += 1;
                plen = plen.wrapping_sub(1);
            }
            break;
        }
    }
    plen == 0 && slen == 0
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        let yes =
            |p: &str, s: &str| assert!(matches(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
        let no =
            |p: &str, s: &str| assert!(!matches(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
        no("*", ""); // Redis: the loop never runs for an empty string
        yes("*", "anything");
        yes("h?llo", "hello");
        yes("h*llo", "heeeello");
        yes("h[ae]llo", "hallo");
        no("h[ae]llo", "hillo");
        yes("h[^e]llo", "hallo");
        no("h[^e]llo", "hello");
        yes("h[a-b]llo", "hbllo");
        yes("h[b-a]llo", "hallo");
        yes("h\\*llo", "h*llo");
        no("h\\*llo", "hello");
        yes("news.*", "news.tech");
        no("news.*", "new");
        yes("a*b*c", "aXXbYYc");
        no("", "a");
        yes("", "");
        yes("[a", "a"); // unterminated bracket: Redis matches the set so far
        no("a[", "a"); // a trailing `[` needs a character to match
        no("?", "");
    }

    #[test]
    fn nocase() {
        assert!(matches(b"HeLLo*", b"hello world", true));
        assert!(!matches(b"HeLLo*", b"hello world", false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pattern = "a*".repeat(50) + "b";
        let text = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!matches(pattern.as_bytes(), text.as_bytes(), false));
        assert!(start.elapsed().as_secs() < 5);
    }

    proptest::proptest! {
        #[test]
        fn literal_prefixes_take_the_fast_path_correctly(
            p in "[ab.\\\\*?\\[\\]^-]{0,8}",
            t in "[abAB.*?\\[\\]^-]{0,8}",
            nocase: bool,
        ) {
            let mut skip = false;
            let slow = super::match_impl(p.as_bytes(), t.as_bytes(), nocase, &mut skip, 0);
            proptest::prop_assert_eq!(matches(p.as_bytes(), t.as_bytes(), nocase), slow);
        }

        #[test]
        fn plain_patterns_take_the_fast_path_correctly(p in "[a-c.:]{0,6}", t in "[a-cA-C.:]{0,6}", nocase: bool) {
            let mut skip = false;
            let slow = super::match_impl(p.as_bytes(), t.as_bytes(), nocase, &mut skip, 0);
            proptest::prop_assert_eq!(matches(p.as_bytes(), t.as_bytes(), nocase), slow);
        }
    }
}
