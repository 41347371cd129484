//! `*`-only glob patterns, the matching language of retry rules.
//!
//! AWS Batch's `evaluateOnExit` allows `*` only at the end; we accept it anywhere (`*i/o timeout*`) because
//! ECS reasons put the interesting words in the middle. There is no `?`, no character class and no escape:
//! reasons contain `[`, `?` and `\` literally, and a pattern that means what it says is easier to review.

use std::fmt;

/// A compiled `*` glob. Matching is anchored at both ends: `Cannot*` matches `CannotPullContainerError: …`
/// but `Pull*` does not.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    /// Literal pieces between the stars; `anchored_start`/`anchored_end` say whether the pattern began/ended
    /// without a star.
    pieces: Vec<String>,
    anchored_start: bool,
    anchored_end: bool,
    ignore_case: bool,
}

impl Glob {
    /// A case-sensitive pattern (user rules: what you write is what is matched, as in AWS Batch).
    pub fn new(pattern: &str) -> Self {
        Self::build(pattern, false)
    }

    /// An ASCII case-insensitive pattern (built-in rules: registries and runtimes disagree on case,
    /// `TooManyRequests` vs `toomanyrequests`).
    pub fn new_ignore_case(pattern: &str) -> Self {
        Self::build(pattern, true)
    }

    fn build(pattern: &str, ignore_case: bool) -> Self {
        let fold = |s: &str| {
            if ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        };
        Glob {
            source: pattern.to_owned(),
            pieces: pattern
                .split('*')
                .filter(|p| !p.is_empty())
                .map(fold)
                .collect(),
            anchored_start: !pattern.starts_with('*'),
            anchored_end: !pattern.ends_with('*'),
            ignore_case,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, text: &str) -> bool {
        if self.ignore_case {
            self.matches_folded(&text.to_ascii_lowercase())
        } else {
            self.matches_folded(text)
        }
    }

    fn matches_folded(&self, text: &str) -> bool {
        if self.pieces.is_empty() {
            // The pattern is empty or only stars.
            return !self.anchored_start || text.is_empty();
        }
        if self.pieces.len() == 1 && self.anchored_start && self.anchored_end {
            return text == self.pieces[0];
        }
        let mut rest = text;
        let last = self.pieces.len() - 1;
        for (i, piece) in self.pieces.iter().enumerate() {
            if i == 0 && self.anchored_start {
                match rest.strip_prefix(piece.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                }
            } else if i == last && self.anchored_end {
                return rest.ends_with(piece.as_str());
            } else {
                // Leftmost match is always safe for `*`-only globs: a later piece can only benefit from
                // more remaining text.
                match rest.find(piece.as_str()) {
                    Some(at) => rest = &rest[at + piece.len()..],
                    None => return false,
                }
            }
        }
        !self.anchored_end || rest.is_empty()
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;
    use proptest::prelude::*;

    #[test]
    fn table() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, bool)] = &[
            ("2", "2", true),
            ("2", "22", false),
            ("1*", "137", true),
            ("*7", "137", true),
            ("*3*", "137", true),
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "x", false),
            ("**", "x", true),
            ("a*b", "ab", true),
            ("a*b", "a-b-b", true),
            ("a*b", "a-b-c", false),
            ("ab*ab", "ab", false),
            ("ab*ab", "abab", true),
            ("*i/o timeout*", "CannotPullContainerError: dial tcp 1.2.3.4:443: i/o timeout", true),
            ("CannotPull*", "ResourceInitializationError: CannotPull", false),
            ("*a*a*a", "aa", false),
            ("*a*a*a", "aaa", true),
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                want,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn case() {
        assert!(!Glob::new("*toomanyrequests*").matches("TOOMANYREQUESTS"));
        assert!(Glob::new_ignore_case("*toomanyrequests*").matches("429 TooManyRequests"));
        assert!(Glob::new_ignore_case("*TooManyRequests*").matches("toomanyrequests"));
    }

    /// A reference matcher by dynamic programming, to check the fast one against.
    fn reference(pattern: &[u8], text: &[u8]) -> bool {
        let mut dp = vec![vec![false; text.len() + 1]; pattern.len() + 1];
        dp[0][0] = true;
        for i in 1..=pattern.len() {
            dp[i][0] = dp[i - 1][0] && pattern[i - 1] == b'*';
            for j in 1..=text.len() {
                dp[i][j] = if pattern[i - 1] == b'*' {
                    dp[i - 1][j] || dp[i][j - 1]
                } else {
                    dp[i - 1][j - 1] && pattern[i - 1] == text[j - 1]
                };
            }
        }
        dp[pattern.len()][text.len()]
    }

    proptest! {
        #[test]
        fn agrees_with_reference(pattern in "[ab*]{0,8}", text in "[ab]{0,10}") {
            prop_assert_eq!(Glob::new(&pattern).matches(&text), reference(pattern.as_bytes(), text.as_bytes()));
        }
    }
}
