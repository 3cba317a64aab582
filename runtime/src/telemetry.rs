//! Logging: `tracing` to stderr with an `EnvFilter`. stdout belongs to the
//! protocol (stdio transport), so nothing here ever writes to it.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is `LOG_LEVEL` (a level or a filter).
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(directives(level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `level`, with rmcp held at `warn` (or `error`, when that is the level)
/// unless the filter names it: rmcp's debug events print whole JSON-RPC
/// requests, and tool arguments can hold secrets (`gojira.bindApiToken`'s
/// token); its info events are three lines per stateless request, which
/// would cost a busy server more than the request itself.
/// `LOG_LEVEL=debug,rmcp=debug` still turns them on, deliberately.
fn directives(level: &str) -> String {
    if level.contains("rmcp") {
        level.to_owned()
    } else if level.trim().eq_ignore_ascii_case("error") {
        format!("{level},rmcp=error")
    } else {
        format!("{level},rmcp=warn")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmcp_stays_at_warn_or_below_unless_named() {
        assert_eq!(directives("debug"), "debug,rmcp=warn");
        assert_eq!(directives("warn"), "warn,rmcp=warn");
        assert_eq!(directives("error"), "error,rmcp=error");
        assert_eq!(directives("trace,rmcp=debug"), "trace,rmcp=debug");
        assert!(EnvFilter::try_new(directives("warn")).is_ok());
    }
}
