//! calsync's storage: one [`Store`] trait, two implementations (SQLite, the embedded
//! default, and PostgreSQL, for several processes sharing the work), each with its own
//! migrations applied on open. The trait speaks domain types; no SQL leaks out.

mod error;
pub mod postgres;
pub mod sqlite;
mod store;
mod url;

pub use error::StoreError;
pub use store::{NewEvent, Store, TokenHash, User};
pub use url::{DatabaseUrl, open};

#[cfg(feature = "testing")]
pub mod testing;
