//! The sync decisions, as pure functions (DESIGN.md §2): what an event's content is once
//! provider noise is removed ([`Content`]), and what to do given the base both sides last
//! agreed on, the local event and the remote one ([`plan`]).

mod content;
mod plan;
mod resolve;

pub use content::{Content, Field};
pub use plan::{ConflictReason, Plan, plan};
pub use resolve::{Choice, ResolveError, Side, resolve};
