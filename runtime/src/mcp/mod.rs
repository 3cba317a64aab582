//! Where a call arrives and leaves: the MCP protocol and its transports.
//!
//! [`listener`] accepts connections (timeouts by phase, a connection cap),
//! [`transport`] serves Streamable HTTP (the auth edge, then [`inbound`]
//! limits) and stdio, and [`server`] is the `rmcp` handler that dispatches a
//! call: to a built-in tool, to [`crate::writes`], or to a read through
//! [`crate::identity`] and [`crate::upstream`]. [`native_consent`] asks the
//! client for a write's consent where the protocol allows. All `rmcp` model
//! types are used here, nowhere else.

pub mod inbound;
pub mod listener;
mod native_consent;
pub mod server;
pub mod transport;
