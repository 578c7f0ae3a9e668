//! Time zone names: IANA names (or `UTC`) that the time zone database knows.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A time zone name checked against the IANA database, kept with the resolved zone.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ZoneName {
    name: String,
    zone: TimeZone,
}

impl ZoneName {
    /// Parses an IANA zone name such as `Europe/Berlin`, or `UTC`.
    ///
    /// # Errors
    /// A message naming the zone when the database does not know it.
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("is empty; use an IANA time zone name such as Europe/Berlin, or UTC".into());
        }
        if name.len() > 64 || name.starts_with('/') || name.contains("..") {
            return Err(format!("{name:?} is not an IANA time zone name"));
        }
        if name == "UTC" || name == "Z" {
            return Ok(Self::utc());
        }
        let unknown = || format!("{name:?} is not a known IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)");
        let zone = TimeZone::get(name).map_err(|_| unknown())?;
        // Store the database's own spelling: lookups ignore case, providers do not.
        match zone.iana_name() {
            Some("Etc/Unknown") | None => Err(unknown()),
            Some(iana) => Ok(Self { name: iana.to_owned(), zone }),
        }
    }

    pub fn utc() -> Self {
        Self { name: "UTC".into(), zone: TimeZone::UTC }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}

impl PartialEq for ZoneName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for ZoneName {}

impl fmt::Debug for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZoneName({})", self.name)
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl TryFrom<String> for ZoneName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ZoneName> for String {
    fn from(value: ZoneName) -> Self {
        value.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_zones_parse_and_unknown_ones_say_why() {
        assert_eq!(ZoneName::parse("Europe/Berlin").map(|z| z.to_string()), Ok("Europe/Berlin".into()));
        assert!(ZoneName::parse("UTC").is_ok());
        assert_eq!(ZoneName::parse("europe/berlin").map(|z| z.to_string()), Ok("Europe/Berlin".into()));
        assert!(ZoneName::parse("Etc/Unknown").is_err());
        let err = ZoneName::parse("Mars/Olympus_Mons").err().unwrap_or_default();
        assert!(err.contains("not a known IANA time zone"), "{err}");
        assert!(ZoneName::parse("").is_err());
        assert!(ZoneName::parse("../../etc/passwd").is_err());
    }
}
