//! Where a change came from.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The place an event was created or last changed: calsync's own API, or a provider.
///
/// Sync uses it to avoid echoing a change back to where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Local,
    Google,
    Microsoft,
    Caldav,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Caldav => "caldav",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name a known [`Source`].
#[derive(Debug, thiserror::Error)]
#[error("unknown source {0:?}: expected local, google, microsoft or caldav")]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Self::Local),
            "google" => Ok(Self::Google),
            "microsoft" => Ok(Self::Microsoft),
            "caldav" => Ok(Self::Caldav),
            other => Err(UnknownSource(other.to_owned())),
        }
    }
}
