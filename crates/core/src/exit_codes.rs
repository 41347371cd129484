//! What a rule's `onExitCode` may say, and which exit codes it matches.
//!
//! A comma-separated list of items, any of which may match: a number (`1`, `-1`), an inclusive range of
//! numbers (`1-5`), or a `*` glob of digits (`13*`: 13, 130–139, 1300…, as in AWS Batch's `evaluateOnExit`).
//! Anything else is refused when the job is read, never accepted and then silently matching nothing (`1-5`
//! used to be a glob that no exit code could spell).

use crate::glob::Glob;

/// One item of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Range(i64, i64),
    Glob(String),
}

fn parse_item(item: &str) -> Result<Item, String> {
    let item = item.trim();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if item.is_empty() {
        return Err("an empty item".to_owned());
    }
    if let Some(n) = item.strip_prefix('-').and_then(number) {
        return Ok(Item::Range(-n, -n));
    }
    if let Some(n) = number(item) {
        return Ok(Item::Range(n, n));
    }
    if let Some((low, high)) = item.split_once('-') {
        return match (number(low), number(high)) {
            (Some(low), Some(high)) if low <= high => Ok(Item::Range(low, high)),
            (Some(_), Some(_)) => Err(format!("the range {item:?} runs backwards")),
            _ => Err(format!(
                "{item:?} is not a number, a range like \"1-5\" or a pattern like \"13*\""
            )),
        };
    }
    if item.chars().all(|c| c.is_ascii_digit() || c == '*') {
        return Ok(Item::Glob(item.to_owned()));
    }
    Err(format!(
        "{item:?} is not a number, a range like \"1-5\" or a pattern like \"13*\""
    ))
}

/// Why `pattern` is not a valid `onExitCode`, if it is not.
pub fn problem(pattern: &str) -> Option<String> {
    pattern.split(',').find_map(|item| parse_item(item).err())
}

/// Whether exit code `code` is one `pattern` names. An invalid pattern matches nothing (jobs are validated
/// before they run, so that is never silent).
pub fn matches(pattern: &str, code: i64) -> bool {
    pattern.split(',').any(|item| match parse_item(item) {
        Ok(Item::Range(low, high)) => (low..=high).contains(&code),
        Ok(Item::Glob(glob)) => Glob::new(&glob).matches(&code.to_string()),
        Err(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn exit_code_patterns_match_numbers_ranges_lists_and_globs() {
        // pattern, exit code, matches
        for (pattern, code, expected) in [
            ("1",        1,   true),
            ("1",        11,  false),
            ("-1",       -1,  true),
            ("1-5",      1,   true),
            ("1-5",      5,   true),
            ("1-5",      3,   true),
            ("1-5",      6,   false),
            ("1-5",      0,   false),
            ("1,2,137",  137, true),
            ("1, 2",     2,   true),
            ("1-5,137",  137, true),
            ("1-5,137",  136, false),
            ("13*",      13,  true),
            ("13*",      137, true),
            ("13*",      3,   false),
            ("*",        0,   true),
            ("x",        1,   false),
        ] {
            assert_eq!(matches(pattern, code), expected, "{pattern:?} against {code}");
        }
    }

    #[rustfmt::skip]
    #[test]
    fn exit_code_patterns_that_cannot_match_are_refused_by_name() {
        for (pattern, expected) in [
            ("1",      None),
            ("1-5",    None),
            ("1,2",    None),
            ("13*",    None),
            ("-1",     None),
            ("5-1",    Some("the range \"5-1\" runs backwards")),
            ("1-",     Some("\"1-\" is not a number, a range like \"1-5\" or a pattern like \"13*\"")),
            ("1--5",   Some("\"1--5\" is not a number, a range like \"1-5\" or a pattern like \"13*\"")),
            ("two",    Some("\"two\" is not a number, a range like \"1-5\" or a pattern like \"13*\"")),
            ("1,,2",   Some("an empty item")),
            ("1*-5",   Some("\"1*-5\" is not a number, a range like \"1-5\" or a pattern like \"13*\"")),
        ] {
            assert_eq!(problem(pattern).as_deref(), expected, "{pattern:?}");
        }
    }
}
