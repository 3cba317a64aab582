//! Where a call arrives and leaves: the MCP protocol and its transports.
//!
//! [`listener`] accepts connections (timeouts by phase, a connection cap),
//! [`transport`] serves Streamable HTTP (the auth edge, then [`inbound`]
//! limits) and stdio, and [`server`] is the `rmcp` handler that dispatches a
//! call: to a built-in tool, to [`crate::writes`], or to a read through
//! [`crate::identity`] and [`crate::upstream`]. [`native_consent`] asks the
//! client for a write's consent where the protocol allows. `rmcp` is used
//! here and, for the served tool list and the consent codec it holds, in
//! [`crate::state`]; nowhere else.

pub mod inbound;
pub mod listener;
mod native_consent;
pub mod server;
pub mod transport;
