//! Numbers as Redis writes them into the format: strict integer parsing
//! (`string2ll`, which decides integer encodings), `%.17g` (how Redis 7.0
//! prints a sorted-set score into a listpack) and score parsing.
//!
//! Invariants kept here:
//! - [`parse_i64_strict`] accepts exactly the strings whose integer form
//!   prints back to the same bytes, so integer-encoding a string is lossless;
//! - [`format_score`] gives the bytes Redis 7.0's `d2string` gives, so a
//!   listpack we build matches Redis's byte for byte.

/// `string2ll`: an optional `-`, then digits without leading zeros (or just
/// `0`), fitting an i64. No spaces, no `+`, no `-0`.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let first = *digits.first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Decimal form of an integer.
pub fn format_i64(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

/// `double2ll`: the integer a double equals, when it is one that a `long
/// long` holds safely (Redis's bound is ±LLONG_MAX/2).
fn double_as_i64(d: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if !(-LIMIT..=LIMIT).contains(&d) {
        return None;
    }
    let l = d as i64;
    (l as f64 == d).then_some(l)
}

/// `printf("%.17g", d)` for a finite, nonzero `d`.
pub fn format_g17(d: f64) -> String {
    // Seventeen significant digits, correctly rounded; the exponent is the
    // one after rounding, which is what %g uses to choose its form.
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if !(-4..17).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (16 - exp) as usize;
        trim_fraction(&format!("{:.*}", decimals, d)).to_string()
    }
}

/// Drop trailing zeros of a fraction, and the point if nothing is left.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Redis 7.0's `d2string`: how a sorted-set score goes into a listpack.
pub fn format_score(d: f64) -> Vec<u8> {
    if d.is_nan() {
        b"nan".to_vec()
    } else if d.is_infinite() {
        if d < 0.0 {
            b"-inf".to_vec()
        } else {
            b"inf".to_vec()
        }
    } else if d == 0.0 {
        if d.is_sign_negative() {
            b"-0".to_vec()
        } else {
            b"0".to_vec()
        }
    } else if let Some(l) = double_as_i64(d) {
        format_i64(l)
    } else {
        format_g17(d).into_bytes()
    }
}

/// A score stored as text (old `zset` type 3, or a listpack/ziplist score
/// element): what `strtod` reads from the strings Redis writes, which are
/// decimal, `inf`, `-inf` or `nan` (NaN is refused by the caller).
pub fn parse_score(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    // strtod skips leading white space; Rust's parser does not.
    let t = t.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() || t.len() > 256 {
        return None;
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        for ok in [
            "0",
            "1",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "120",
        ] {
            assert_eq!(
                parse_i64_strict(ok.as_bytes()),
                Some(ok.parse().unwrap()),
                "{ok}"
            );
        }
        for bad in [
            "",
            "-",
            "-0",
            "01",
            "+1",
            " 1",
            "1 ",
            "1a",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "1.0",
            "0x10",
        ] {
            assert_eq!(parse_i64_strict(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn scores_print_like_printf_g17() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (-2.25, "-2.25"),
            (3.0, "3"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e20, "1e+20"),
            (1.0e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (123456.789, "123456.789"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (4611686018427387904.0, "4611686018427387904"),
            (9223372036854775808.0, "9.2233720368547758e+18"),
            (4611686018427387903.0 - 1024.0, "4611686018427386880"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (12345678901234567.0, "12345678901234568"),
            (0.3333333333333333, "0.33333333333333331"),
        ];
        for (d, want) in cases {
            assert_eq!(String::from_utf8(format_score(*d)).unwrap(), *want, "{d:e}");
        }
    }

    #[test]
    fn scores_parse_back() {
        for d in [
            1.5,
            0.1,
            -2.25,
            1e20,
            1e-5,
            5e-324,
            1.7976931348623157e308,
            -0.0,
        ] {
            assert_eq!(
                parse_score(&format_score(d)).unwrap().to_bits(),
                d.to_bits()
            );
        }
        assert_eq!(parse_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_score(b"nan").unwrap().is_nan());
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"abc"), None);
    }
}
