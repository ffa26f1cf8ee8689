//! Where in a bundle something happened, read from the engine's diagnostics.

use std::fmt;

/// A position in a bundle's module: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceLocation {
    /// The module's path within the bundle, as given when loading.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column; 1 when only the line is known.
    pub column: u32,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// An engine error split into the location it points at and its message.
#[derive(Debug)]
pub(crate) struct Diagnostic {
    pub(crate) location: Option<SourceLocation>,
    pub(crate) message: String,
}

impl Diagnostic {
    /// Reads regorus's rendering: a `--> file:line:col` line, a source
    /// excerpt, and a final `error: message` line. Anything else is kept
    /// whole as the message.
    pub(crate) fn from_engine(error: &anyhow::Error) -> Diagnostic {
        let text = format!("{error:#}");
        let location = text.lines().find_map(|line| parse_arrow(line.trim_start()));
        let message = text
            .lines()
            .rev()
            .find_map(|line| line.trim_start().strip_prefix("error: "))
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        Diagnostic { location, message }
    }
}

/// `--> path:line:col`, where the path may itself contain colons.
fn parse_arrow(line: &str) -> Option<SourceLocation> {
    let rest = line.strip_prefix("--> ")?;
    let (rest, column) = rest.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some(SourceLocation {
        file: file.to_owned(),
        line: line.parse().ok()?,
        column: column.trim().parse().ok()?,
    })
}

/// The line on which `rule` is defined in `source`: the first line whose text
/// starts with the rule's name followed by a rule head (`if`, `{`, `:=`, `=`,
/// `contains`, `[`) or the end of the line.
pub(crate) fn rule_line(source: &str, rule: &str) -> Option<u32> {
    source
        .lines()
        .position(|line| {
            line.strip_prefix(rule)
                .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '{', ':', '=', '[']))
        })
        .and_then(|index| u32::try_from(index + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_parse_error_with_colons_in_the_path() {
        let error = anyhow::anyhow!(
            "\n--> C:/b/x.rego:4:5\n  |\n4 |   1 = \n  |     ^\nerror: expecting `}}` while parsing set"
        );
        let d = Diagnostic::from_engine(&error);
        assert_eq!(
            d.location,
            Some(SourceLocation {
                file: "C:/b/x.rego".into(),
                line: 4,
                column: 5
            })
        );
        assert_eq!(d.message, "expecting `}` while parsing set");
    }

    #[test]
    fn keeps_a_message_without_location_whole() {
        let d = Diagnostic::from_engine(&anyhow::anyhow!("rule data.a.b not found"));
        assert_eq!(d.location, None);
        assert_eq!(d.message, "rule data.a.b not found");
    }

    #[test]
    fn finds_rule_heads_not_mentions() {
        let source = "package p\n\n# test_a is below\ntest_ab if true\ntest_a if {\n  true\n}\n";
        assert_eq!(rule_line(source, "test_a"), Some(5));
        assert_eq!(rule_line(source, "test_ab"), Some(4));
        assert_eq!(rule_line(source, "test_c"), None);
    }
}
