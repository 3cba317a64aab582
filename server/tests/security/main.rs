//! The security suite: one test per property an attacker would try to
//! break, each against the real binary (and, where identity is involved,
//! two real users of the fake Atlassian). A test is named after the
//! property it proves; each module is one area.
//!
//! | module | property |
//! |---|---|
//! | `sign_in` | the Atlassian leg of a sign-in completes only in the browser that approved it |
//! | `paths` | no call of any tool reaches a path outside its operation's template (dot segments and empty path values are refused before anything is sent) |

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;

mod paths;
mod sign_in;
