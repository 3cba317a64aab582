//! The security suite: one test per property an attacker would try to
//! break, each against the real binary (and, where identity is involved,
//! two real users of the fake Atlassian). A test is named after the
//! property it proves; each module is one area.
//!
//! | module | property |
//! |---|---|
//! | `sign_in` | the Atlassian leg of a sign-in completes only in the browser that approved it |
//! | `redaction` | no credential (echoed by an upstream error, or carried by a write) reaches a tool result or the journal |
//! | `answers` | an upstream answer is read only up to the 16 MiB cap; trimming keeps the answer's key order |

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;

mod answers;
mod redaction;
mod sign_in;
