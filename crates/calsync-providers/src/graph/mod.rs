//! The Microsoft Graph (Outlook) connector (protocols.md §2). So far the translation of
//! Graph's event JSON; the connector itself comes with the Graph emulator (issue 6).

pub mod map;
