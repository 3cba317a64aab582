//! The security suite: one test per property an attacker would try to
//! break, each against the real binary (and, where identity is involved,
//! two real users of the fake Atlassian). A test is named after the
//! property it proves; each module is one area.
//!
//! | module | property |
//! |---|---|
//! | `data_dir` | the embedded store's directory and database file are private to the server's user |
//! | `journal` | a user sees, verifies and reverts only their own journal entries; an operator's view is configured and audited |
//! | `listener` | idle and half-sent connections cannot exhaust the server's file descriptors; a declared oversized body is refused unread |
//! | `paths` | no call of any tool reaches a path outside its operation's template (dot segments and empty path values are refused before anything is sent) |
//! | `refresh` | a client racing its own refresh keeps its session; reuse after the grace window revokes the sign-in |
//! | `scopes` | a token lists and calls only what its scopes allow; a refresh never widens it |
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
mod data_dir;
mod journal;
mod listener;
mod paths;
mod redaction;
mod refresh;
mod scopes;
mod sign_in;
