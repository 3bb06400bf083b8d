//! Junction's native matching core. See native/SEMANTICS.md for the matching rules.

pub mod book;
pub mod engine;
pub mod index;
pub mod pool;
pub mod records;
pub mod snapshot;

#[cfg(not(test))]
mod napi;

#[cfg(test)]
mod tests;
