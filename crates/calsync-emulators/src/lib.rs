//! Local emulators of the calendar providers calsync syncs with. No machine here reaches the
//! real services, so tests, benchmarks and the demo run against these; they follow the
//! providers' documented behaviour (see `../shared/protocols.md`), unpleasant parts included.
//!
//! - [`google`]: Google Calendar API v3 with OAuth 2.0, push channels and a fault-injection
//!   control API.
//! - [`graph`]: Microsoft Graph's Outlook calendar (v1.0) with Microsoft identity platform
//!   OAuth, calendarView delta, subscriptions with webhooks and per-mailbox throttling.
//! - [`faults`]: the fault-injection and request-log design both share.
//!
//! Both also share (privately) how they run as a server, their OAuth authorization endpoint's
//! mechanics (consent page, redirects, PKCE, client credentials), the control API's request
//! parsing, the configuration types `UserSpec` and `PageMode`, and the HTML helpers of their own
//! web pages (`/calendar`, `/outlook`: one user's calendar to view and edit in a browser).

mod config;
mod control;
pub mod faults;
pub mod google;
pub mod graph;
mod oauth;
mod random;
mod server;
mod web;
