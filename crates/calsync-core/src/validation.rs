//! Validation results that name the field and the rule that failed.

use serde::Serialize;
use std::fmt;

/// One broken rule on one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Violation {
    /// Where in the input: `title`, `start.time_zone`, `attendees[2].email`.
    pub field: String,
    /// A short machine-readable rule name: `required`, `max_length`, `end_after_start`, …
    pub rule: &'static str,
    /// What is wrong and what would be right, for a human.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every violation found in one input (we report all of them, not just the first).
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn one(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.push(field, rule, message);
        v
    }

    pub fn push(&mut self, field: impl Into<String>, rule: &'static str, message: impl Into<String>) {
        self.0.push(Violation { field: field.into(), rule, message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was found, else all violations.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }

    /// Adds `prefix.` to every field (for nested inputs).
    pub fn nest(mut self, prefix: &str) -> Self {
        for v in &mut self.0 {
            v.field = if v.field.is_empty() {
                prefix.to_owned()
            } else if v.field.starts_with('[') {
                format!("{prefix}{}", v.field)
            } else {
                format!("{prefix}.{}", v.field)
            };
        }
        self
    }

    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            v.fmt(f)?;
        }
        Ok(())
    }
}

/// Checks a length limit counted in characters (not bytes: limits are about what people type).
pub(crate) fn check_len(violations: &mut Violations, field: &str, value: &str, max_chars: usize) {
    let n = value.chars().count();
    if n > max_chars {
        violations.push(field, "max_length", format!("is {n} characters long; at most {max_chars} are allowed"));
    }
}

/// `#RRGGBB`, the colour form every provider can map.
pub(crate) fn check_color(violations: &mut Violations, field: &str, value: &str) {
    let ok = value.len() == 7 && value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        violations.push(field, "color", format!("{value:?} is not a colour; use #RRGGBB, e.g. #1e90ff"));
    }
}
