//! Redis-compatible glob matching over raw bytes.
//!
//! KEYS, SCAN/HSCAN/SSCAN/ZSCAN `MATCH`, PSUBSCRIBE and CONFIG GET all use the
//! same glob dialect, so it lives here once. The dialect is Redis'
//! `stringmatchlen`, including its odd corners:
//!
//! * `*` matches any run of bytes, but only inside a non-empty string: an empty
//!   string is matched only by an empty pattern (so `*` does not match `""`).
//! * `?` matches exactly one byte.
//! * `[abc]`, `[^abc]` and ranges `[a-z]` (reversed ranges such as `[z-a]`
//!   work too) match one byte; `\x` inside brackets is a literal `x`
//!   (compared case-sensitively even in `nocase` mode, as Redis does).
//!   A `[` with no closing `]` runs to the end of the pattern. `[a-]` is a
//!   range from `a` to `]`, because a `-` followed by any byte forms a range.
//! * `\x` outside brackets is a literal `x`; a lone trailing `\` is a literal
//!   backslash.
//! * `nocase` folds ASCII letters only.
//! * A pattern that makes the matcher pass more than 1000 `*` groups (not
//!   counting a final one) never matches, mirroring Redis' nesting guard.
//!
//! Range ends compare as signed bytes, like Redis' C `char`s on x86-64, so a
//! range such as `[a-\xff]` means `\xff..=a` (0xff is -1), exactly as there.
//!
//! The matcher is iterative with a single backtrack point (the last `*`), so
//! it runs in O(pattern * string) time and constant stack, whatever the input.

/// Redis refuses to recurse through more than this many `*` groups; we count
/// them instead of recursing, but keep the same cut-off so results agree.
const MAX_STAR_NESTING: usize = 1000;

/// Returns whether `string` matches the Redis glob `pattern`.
///
/// Semantics are those of Redis' `stringmatchlen` (see the module docs); the
/// implementation never panics and never takes exponential time.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Redis never enters its matching loop for an empty subject, so only the
    // empty pattern matches it (even `*` does not).
    if string.is_empty() {
        return pattern.is_empty();
    }

    let mut p = 0usize;
    let mut s = 0usize;
    // Number of `*` groups passed so far on the current path.
    let mut stars = 0usize;
    // Backtrack point: (pattern index after the last `*`, string index where
    // that `*` currently stops, star count at that point).
    let mut resume: Option<(usize, usize, usize)> = None;

    loop {
        if s == string.len() {
            // Subject consumed: only trailing stars may remain. Letting an
            // earlier `*` swallow more bytes can only leave fewer bytes for a
            // pattern that already ran short, so no backtracking is needed.
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            return p == pattern.len();
        }

        let step = match pattern.get(p) {
            None => None,
            Some(b'*') => {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                if p == pattern.len() {
                    // A final star swallows the (non-empty) rest.
                    return true;
                }
                stars += 1;
                if stars > MAX_STAR_NESTING {
                    return false;
                }
                resume = Some((p, s, stars));
                continue;
            }
            Some(_) => {
                let (matched, next) = match_token(pattern, p, string[s], nocase);
                matched.then_some(next)
            }
        };

        match step {
            Some(next) => {
                p = next;
                s += 1;
            }
            None => {
                // Mismatch (or pattern exhausted early): let the last star
                // absorb one more byte and retry what follows it. The star
                // never absorbs the final byte since a non-star token follows.
                let Some((star_p, star_s, star_count)) = resume else {
                    return false;
                };
                let next_s = star_s + 1;
                if next_s >= string.len() {
                    return false;
                }
                resume = Some((star_p, next_s, star_count));
                p = star_p;
                s = next_s;
                stars = star_count;
            }
        }
    }
}

/// Matches the single-byte token at `pattern[p]` (which must exist and not be
/// `*`) against byte `c`. Returns whether it matched and the index of the
/// next token; the token's extent never depends on `c`.
fn match_token(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match_bracket(pattern, p + 1, c, nocase),
        b'\\' if p + 1 < pattern.len() => (eq_byte(pattern[p + 1], c, nocase), p + 2),
        lit => (eq_byte(lit, c, nocase), p + 1),
    }
}

/// Evaluates a bracket class whose body starts at `start` (just past `[`).
/// Returns whether `c` is accepted and the index just past the closing `]`
/// (or the pattern length when the class is unterminated).
fn match_bracket(pattern: &[u8], start: usize, c: u8, nocase: bool) -> (bool, usize) {
    let len = pattern.len();
    let mut i = start;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let end = loop {
        if i >= len {
            // Unterminated class: the end of the pattern closes it.
            break len;
        }
        let b = pattern[i];
        if b == b'\\' && len - i >= 2 {
            // Escaped byte; Redis compares it exactly, ignoring `nocase`.
            if pattern[i + 1] == c {
                matched = true;
            }
            i += 2;
        } else if b == b']' {
            break i + 1;
        } else if len - i >= 3 && pattern[i + 1] == b'-' {
            // Redis compares C `char`s, which are signed on x86-64: bytes
            // 0x80..=0xff sort before 0x00. Compare as i8 to agree with it.
            let (mut lo, mut hi) = (b, pattern[i + 2]);
            if (lo as i8) > (hi as i8) {
                std::mem::swap(&mut lo, &mut hi);
            }
            let mut x = c;
            if nocase {
                // Redis lowercases after ordering the ends, so `[Z-a]` with
                // nocase becomes the empty range `z..=a`; keep that quirk.
                lo = lo.to_ascii_lowercase();
                hi = hi.to_ascii_lowercase();
                x = x.to_ascii_lowercase();
            }
            if (lo as i8) <= (x as i8) && (x as i8) <= (hi as i8) {
                matched = true;
            }
            i += 3;
        } else {
            if eq_byte(b, c, nocase) {
                matched = true;
            }
            i += 1;
        }
    };
    (matched != negate, end)
}

/// Byte equality with optional ASCII case folding, as Redis' `tolower` in the
/// C locale does.
fn eq_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Returns true for bytes that give a pattern any meaning beyond literal
/// bytes, so prefix extraction knows where the literal part stops.
fn is_meta(b: u8) -> bool {
    matches!(b, b'*' | b'?' | b'[' | b'\\')
}

/// If `pattern` is `literal*` (a metachar-free literal followed only by one or
/// more `*`), returns the literal so SCAN/KEYS can seek to it and stop at the
/// first key without that prefix instead of testing every key.
///
/// Every non-empty key starting with the prefix matches the pattern. The one
/// exception is the empty key against the pattern `*`, which `glob_match`
/// rejects but which Redis' KEYS/SCAN still return (they special-case `*`),
/// so seeking is exactly right for those commands.
pub fn is_plain_prefix_pattern(pattern: &[u8]) -> Option<&[u8]> {
    let cut = pattern.iter().position(|&b| is_meta(b))?;
    let tail = &pattern[cut..];
    if tail.iter().all(|&b| b == b'*') {
        Some(&pattern[..cut])
    } else {
        None
    }
}

/// Returns the longest prefix of `pattern` free of metachars (`*?[\`); every
/// string the pattern matches starts with it, so callers may use it to bound
/// a range scan even when the rest of the pattern is complex.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let cut = pattern
        .iter()
        .position(|&b| is_meta(b))
        .unwrap_or(pattern.len());
    &pattern[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shorthand: case-sensitive match.
    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    /// Shorthand: case-insensitive match.
    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    /// Straightforward recursive transcription of Redis' algorithm (without
    /// the early exit), used as an oracle on small random inputs.
    fn reference(p: &[u8], s: &[u8], nocase: bool, nesting: usize) -> bool {
        if nesting > MAX_STAR_NESTING {
            return false;
        }
        let (mut pi, mut si) = (0usize, 0usize);
        while pi < p.len() && si < s.len() {
            if p[pi] == b'*' {
                while p.get(pi + 1) == Some(&b'*') {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                for start in si..s.len() {
                    if reference(&p[pi + 1..], &s[start..], nocase, nesting + 1) {
                        return true;
                    }
                }
                return false;
            }
            let (ok, next) = match_token(p, pi, s[si], nocase);
            if !ok {
                return false;
            }
            pi = next;
            si += 1;
            if si == s.len() {
                while p.get(pi) == Some(&b'*') {
                    pi += 1;
                }
                break;
            }
        }
        pi == p.len() && si == s.len()
    }

    /// Tiny deterministic xorshift generator so fuzz failures reproduce.
    struct Rng(u64);

    impl Rng {
        /// Advances the xorshift64 state and returns it.
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Returns a value in `0..n`.
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }

        /// Returns up to `max_len` random bytes drawn from `alphabet`.
        fn pick(&mut self, alphabet: &[u8], max_len: u64) -> Vec<u8> {
            let n = self.below(max_len + 1);
            (0..n)
                .map(|_| alphabet[self.below(alphabet.len() as u64)])
                .collect()
        }
    }

    #[test]
    fn literals() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(!m("hello", "Hello"));
        assert!(mi("hello", "HeLLo"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
    }

    #[test]
    fn star_basics() {
        assert!(m("*", "anything"));
        assert!(m("h*o", "hello"));
        assert!(m("h*o", "ho"));
        assert!(m("h*", "h"));
        assert!(m("*o", "o"));
        assert!(!m("h*o", "hellx"));
        assert!(m("*llo", "hello"));
        assert!(m("he*", "hello"));
        assert!(m("*e*l*", "hello"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abbbc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("*a*", "bab"));
        assert!(m("**", "x"));
        assert!(m("a***b", "ab"));
        assert!(m("a***b", "axxb"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("a*?", "a"));
        assert!(m("a*?", "ab"));
        assert!(m("*?", "a"));
        assert!(!m("*??", "a"));
    }

    #[test]
    fn empty_string_quirk() {
        // Redis only matches "" with the empty pattern.
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("?", ""));
        assert!(!m("[^a]", ""));
        assert!(m("", ""));
    }

    #[test]
    fn question_mark() {
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("???", "abc"));
        assert!(!m("???", "ab"));
        assert!(!m("???", "abcd"));
        assert!(m("?", "\u{0}"));
    }

    #[test]
    fn brackets() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[0-9]", "5"));
        assert!(!m("[0-9]", "a"));
        assert!(m("[^0-9]", "a"));
        assert!(m("[abc0-9x]", "7"));
        assert!(m("[abc0-9x]", "x"));
        assert!(!m("[abc0-9x]", "y"));
        assert!(!m("[]", "a"));
        assert!(m("[^]", "a"));
    }

    #[test]
    fn reversed_ranges() {
        assert!(m("[z-a]", "m"));
        assert!(m("[9-0]", "0"));
        assert!(!m("[z-a]", "A"));
    }

    #[test]
    fn range_edge_cases() {
        // `[a-]` is the (reversed) range ']'..='a', and the class then
        // continues to the next `]` or the end of the pattern.
        assert!(m("[a-]", "]"));
        assert!(m("[a-]", "_"));
        assert!(m("[a-]", "a"));
        assert!(!m("[a-]", "b"));
        assert!(!m("[a-]", "-"));
        assert!(m("[a-]x]", "x"));
        assert!(!m("[a-]x]", "bx"));
        // A leading `-`, or one with fewer than two bytes after it, is literal.
        assert!(m("[-a]", "-"));
        assert!(m("[a-b-]", "-"));
        assert!(m("[a-b-]", "b"));
        // `[ab-]` holds `a` and the range ']'..='b' (the `]` is swallowed).
        assert!(!m("[ab-]", "-"));
        assert!(m("[ab-]", "_"));
        assert!(m("[ab-]", "a"));
    }

    #[test]
    fn nocase() {
        assert!(mi("H[A-Z]LLO", "hello"));
        assert!(mi("[a-z]", "Q"));
        assert!(!m("[a-z]", "Q"));
        assert!(mi("[^a]", "b"));
        assert!(!mi("[^a]", "A"));
        assert!(mi("*FOO*", "xxfooxx"));
        // Ends are lowercased after ordering: [Z-a] becomes z..=a, empty.
        assert!(!mi("[Z-a]", "_"));
        assert!(m("[Z-a]", "_"));
        // Non-ASCII bytes are not folded.
        assert!(!glob_match(b"\xc4", b"\xe4", true));
    }

    #[test]
    fn high_byte_ranges_are_signed() {
        // 0xff is -1 as a signed char: [a-\xff] covers -1..=97.
        assert!(glob_match(b"[a-\xff]", b"\xff", false));
        assert!(glob_match(b"[a-\xff]", b"0", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(glob_match(b"[\x80-\x90]", b"\x85", false));
        assert!(glob_match(b"[\x80-\x00]", b"\xf0", false));
        assert!(!glob_match(b"[\x80-\x00]", b"\x01", false));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "x"));
        assert!(m("a\\[b", "a[b"));
        assert!(m("\\\\", "\\"));
        assert!(m("\\a", "a"));
        assert!(mi("\\A", "a"));
        // Trailing lone backslash is literal.
        assert!(m("a\\", "a\\"));
        assert!(!m("a\\", "a"));
        // Escapes inside brackets.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-a]", "-"));
        assert!(m("[\\^]", "^"));
        assert!(m("[a\\]", "a"));
        // Escapes in brackets are case-sensitive even with nocase (Redis).
        assert!(!mi("[\\A]", "a"));
        assert!(mi("[A]", "a"));
        // A class ending in a lone backslash treats it literally.
        assert!(m("[\\", "\\"));
    }

    #[test]
    fn unterminated_bracket() {
        assert!(m("a[bc", "ab"));
        assert!(m("a[bc", "ac"));
        assert!(!m("a[bc", "ad"));
        assert!(!m("a[bc", "abc"));
        assert!(!m("[", "a"));
        assert!(m("[^", "a"));
        assert!(m("[a-", "a"));
        assert!(m("hell[a-o", "hello"));
        // An empty unterminated class matches nothing.
        assert!(!m("*[", "ab"));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let pattern = "a*".repeat(100) + "b";
        let subject = "a".repeat(10_000);
        let t = std::time::Instant::now();
        assert!(!m(&pattern, &subject));
        let pattern = "*a".repeat(200) + "*b";
        assert!(!m(&pattern, &subject));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        let pattern = "*a".repeat(200) + "*";
        assert!(m(&pattern, &subject));
    }

    #[test]
    fn star_nesting_guard() {
        let subject = "a".repeat(2000);
        let ok = "*a".repeat(1000) + "*";
        assert!(m(&ok, &subject));
        let ok = "*a".repeat(1000);
        assert!(m(&ok, &subject));
        let too_many = "*a".repeat(1001);
        assert!(!m(&too_many, &subject));
        // A trailing star is not a nesting level.
        let with_tail = "*a".repeat(1000) + "*";
        assert!(m(&with_tail, &subject));
    }

    #[test]
    fn agrees_with_reference_on_random_inputs() {
        let pat_alpha = b"ab*?[]^-\\Az";
        let str_alpha = b"abAz-]^\\";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200_000 {
            let p = rng.pick(pat_alpha, 8);
            let s = rng.pick(str_alpha, 6);
            let nocase = rng.below(2) == 1;
            let want = if s.is_empty() {
                p.is_empty()
            } else {
                reference(&p, &s, nocase, 0)
            };
            assert_eq!(
                glob_match(&p, &s, nocase),
                want,
                "pattern {:?} string {:?} nocase {}",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&s),
                nocase
            );
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(12345);
        let all: Vec<u8> = (0..=255).collect();
        for _ in 0..20_000 {
            let p = rng.pick(&all, 24);
            let s = rng.pick(&all, 24);
            let _ = glob_match(&p, &s, false);
            let _ = glob_match(&p, &s, true);
            let _ = is_plain_prefix_pattern(&p);
            let _ = literal_prefix(&p);
        }
    }

    #[test]
    fn plain_prefix() {
        assert_eq!(is_plain_prefix_pattern(b"user:*"), Some(&b"user:"[..]));
        assert_eq!(is_plain_prefix_pattern(b"user:**"), Some(&b"user:"[..]));
        assert_eq!(is_plain_prefix_pattern(b"*"), Some(&b""[..]));
        assert_eq!(is_plain_prefix_pattern(b"user"), None);
        assert_eq!(is_plain_prefix_pattern(b""), None);
        assert_eq!(is_plain_prefix_pattern(b"u*r"), None);
        assert_eq!(is_plain_prefix_pattern(b"u?*"), None);
        assert_eq!(is_plain_prefix_pattern(b"u[a]*"), None);
        assert_eq!(is_plain_prefix_pattern(b"u\\**"), None);
        assert_eq!(is_plain_prefix_pattern(b"u*\\"), None);
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix(b"user:*:name"), b"user:");
        assert_eq!(literal_prefix(b"abc"), b"abc");
        assert_eq!(literal_prefix(b""), b"");
        assert_eq!(literal_prefix(b"*abc"), b"");
        assert_eq!(literal_prefix(b"ab?c"), b"ab");
        assert_eq!(literal_prefix(b"ab[c]"), b"ab");
        assert_eq!(literal_prefix(b"ab\\c"), b"ab");
    }

    #[test]
    fn prefix_is_consistent_with_matching() {
        let mut rng = Rng(777);
        let alpha = b"ab*?[\\";
        for _ in 0..20_000 {
            let p = rng.pick(alpha, 6);
            let s = rng.pick(b"ab*?[\\", 6);
            if glob_match(&p, &s, false) {
                assert!(s.starts_with(literal_prefix(&p)));
            }
            if let Some(prefix) = is_plain_prefix_pattern(&p) {
                if !s.is_empty() {
                    assert_eq!(glob_match(&p, &s, false), s.starts_with(prefix));
                }
            }
        }
    }
}
