//! The SDK's futures, boxed where this crate awaits them: `.erased().await`.
//!
//! Why: matrix-sdk's futures are deep types (sending one event nests the encryption, the HTTP
//! client and the stores). Every `Connector` method returns a `Send` future, and the compiler
//! proves `Send` through the whole nest again in every async function that awaits it, directly
//! or through our helpers: most of this crate's compile time before code generation went
//! there (`-Zself-profile`: 43 s of 74 in the borrow checker, five `Connector` methods 38 s of
//! it). A `dyn Future + Send` box ends each proof at the box. The cost at run time is one
//! allocation per SDK call, next to an HTTP request or a database read.

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
