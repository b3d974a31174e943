//! Kubernetes label selectors, as `kubectl get -l` takes them: `app=web`, `app==web`,
//! `tier!=cache`, `env in (prod,staging)`, `env notin (dev)`, `canary`, `!canary`, joined by
//! commas (all must hold).

use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("label selector `{selector}`: {problem} at character {at}")]
pub struct SelectorError {
    pub selector: String,
    pub problem: String,
    /// 1-based, in characters (not bytes): what a person counts in the selector they wrote.
    pub at: usize,
}

impl LabelSelector {
    /// An empty selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches<'a>(&self, mut label: impl FnMut(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            // As in Kubernetes, a missing label satisfies `!=` and `notin`.
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, values) => label(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => !label(k).is_some_and(|v| values.contains(v)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
        })
    }

    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser {
            text: selector,
            pos: 0,
        };
        let mut requirements = Vec::new();
        parser.skip_blanks();
        if parser.at_end() {
            return Ok(Self::default());
        }
        loop {
            requirements.push(parser.requirement()?);
            parser.skip_blanks();
            if parser.at_end() {
                break;
            }
            parser.expect(",")?;
        }
        Ok(Self { requirements })
    }
}

struct Parser<'a> {
    text: &'a str,
    /// A byte offset into `text`, always at a character boundary.
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, problem: impl Into<String>) -> SelectorError {
        SelectorError {
            selector: self.text.to_string(),
            problem: problem.into(),
            at: self.text[..self.pos].chars().count() + 1,
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_blanks();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), SelectorError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{token}`")))
        }
    }

    /// A label key or value: Kubernetes' character set (alphanumerics, `-`, `_`, `.`, and `/`
    /// for a key's prefix).
    fn word(&mut self, what: &str) -> Result<String, SelectorError> {
        self.skip_blanks();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error(format!("expected a {what}")));
        }
        let word = self.rest()[..len].to_string();
        self.pos += len;
        Ok(word)
    }

    /// `word` followed by a blank, `(` or the end. (Checks the prefix before looking past
    /// it: the selector is a caller's text, and `word.len()` bytes into it need not be a
    /// character boundary.)
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_blanks();
        let Some(after) = self.rest().strip_prefix(word) else {
            return false;
        };
        if after
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == '(')
        {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn values(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        self.expect("(")?;
        let mut values = BTreeSet::new();
        loop {
            self.skip_blanks();
            if self.eat(")") {
                break;
            }
            values.insert(self.word("value")?);
            if self.eat(")") {
                break;
            }
            self.expect(",")?;
        }
        if values.is_empty() {
            return Err(self.error("a set needs at least one value"));
        }
        Ok(values)
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        if self.eat("!") {
            return Ok(Requirement::NotExists(self.word("label key")?));
        }
        let key = self.word("label key")?;
        if self.eat("!=") {
            return Ok(Requirement::NotEquals(key, self.word("value")?));
        }
        if self.eat("==") || self.eat("=") {
            return Ok(Requirement::Equals(key, self.word("value")?));
        }
        if self.keyword("notin") {
            return Ok(Requirement::NotIn(key, self.values()?));
        }
        if self.keyword("in") {
            return Ok(Requirement::In(key, self.values()?));
        }
        self.skip_blanks();
        if self.at_end() || self.rest().starts_with(',') {
            return Ok(Requirement::Exists(key));
        }
        Err(self.error("expected `=`, `!=`, `in`, `notin`, `,` or the end"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(selector: &str, labels: &[(&str, &str)]) -> bool {
        let s = LabelSelector::parse(selector).expect("parses");
        s.matches(|k| labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v))
    }

    #[test]
    fn every_operator() {
        let labels = [
            ("app", "web"),
            ("env", "prod"),
            ("app.kubernetes.io/part-of", "shop"),
        ];
        assert!(matches("", &labels));
        assert!(matches("app=web", &labels));
        assert!(matches("app==web", &labels));
        assert!(!matches("app=db", &labels));
        assert!(matches("app!=db", &labels));
        assert!(matches("tier!=db", &labels));
        assert!(matches("env in (prod, staging)", &labels));
        assert!(!matches("env notin (prod)", &labels));
        assert!(matches("tier notin (prod)", &labels));
        assert!(matches("app", &labels));
        assert!(!matches("!app", &labels));
        assert!(matches("!canary", &labels));
        assert!(matches(
            "app=web, env in (prod),app.kubernetes.io/part-of=shop",
            &labels
        ));
        assert!(!matches("app=web,env=dev", &labels));
        // `in` as a key is still a key.
        assert!(matches("!in", &labels));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = LabelSelector::parse("app=web,,").unwrap_err();
        assert_eq!(e.at, 9, "{e}");
        let e = LabelSelector::parse("env in prod").unwrap_err();
        assert!(e.problem.contains("`(`"), "{e}");
        let e = LabelSelector::parse("env in ()").unwrap_err();
        assert!(e.problem.contains("at least one"), "{e}");
        assert!(LabelSelector::parse("app=web extra").is_err());
    }

    /// A Subscribe `pod_selector` of `k €` panicked the request task: `keyword("in")` sliced
    /// the 3-byte `€` two bytes in.
    #[test]
    fn non_ascii_after_a_key_is_an_error_not_a_panic() {
        for selector in [
            "k €",
            "k\t€",
            "k i€",
            "k no€",
            "k notin€",
            "k in€",
            "k\u{3000}€",
        ] {
            let e = LabelSelector::parse(selector).unwrap_err();
            assert!(e.problem.contains("expected"), "{selector}: {e}");
        }
        let e = LabelSelector::parse("k €").unwrap_err();
        assert_eq!(e.at, 3, "{e}");
    }

    #[test]
    fn error_positions_count_characters_not_bytes() {
        // U+3000 is a (3-byte) blank: byte offsets would say 13.
        let e = LabelSelector::parse("app=web,\u{3000}!").unwrap_err();
        assert_eq!(e.at, 11, "{e}");
        let e = LabelSelector::parse("é").unwrap_err();
        assert_eq!(e.at, 1, "{e}");
        let e = LabelSelector::parse("a=b,\u{3000}\u{3000}€").unwrap_err();
        assert_eq!(e.at, 7, "{e}");
    }
}
