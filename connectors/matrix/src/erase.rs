//! The SDK's futures, boxed where this crate awaits them: `.erased().await`.
//!
//! Why: matrix-sdk's futures are deep types (sending one event nests the encryption, the HTTP
//! client and the stores). Every `Connector` method returns a `Send` future, and the compiler
//! proves `Send` through the whole nest again in every async function that awaits it, directly
//! or through our helpers (`-Zself-profile`: 43 s of this crate's 74 s before code generation
//! in the borrow checker, 38 s of that in five `Connector` methods, mostly trait proofs). A
//! `dyn Future + Send` box ends each proof at the box: the crate's release build went from 98
//! to 81 CPU-s. The cost at run time is one allocation per SDK call, next to an HTTP request or
//! a database read. A new SDK call compiles without it, only slower: use it there too.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

/// A boxed `Send` future: what [`Erase::erased`] returns.
pub(crate) type Erased<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `.erased()` on anything awaitable whose future is `Send`.
pub(crate) trait Erase: IntoFuture + Sized {
    fn erased<'a>(self) -> Erased<'a, Self::Output>
    where
        Self::IntoFuture: Send + 'a,
    {
        Box::pin(self.into_future())
    }
}

impl<F: IntoFuture> Erase for F {}
