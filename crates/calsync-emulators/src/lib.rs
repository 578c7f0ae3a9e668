//! Local emulators of the calendar providers calsync syncs with. No machine here reaches the
//! real services, so tests, benchmarks and the demo run against these; they follow the
//! providers' documented behaviour (see `../shared/protocols.md`), unpleasant parts included.
//!
//! - [`google`]: Google Calendar API v3 with OAuth 2.0, push channels and a fault-injection
//!   control API.

pub mod google;
mod random;
