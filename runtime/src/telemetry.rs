//! Logging: `tracing` to stderr with an `EnvFilter`. stdout belongs to the
//! protocol (stdio transport), so nothing here ever writes to it.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is `LOG_LEVEL` (a level or a filter).
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
