//! `fake-atlassian`: serve the fake Atlassian Cloud APIs on 127.0.0.1 until Ctrl-C.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fake_atlassian::{
    DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CLOUD_ID, DEFAULT_EMAIL,
    DEFAULT_ORG_ADMIN_KEY, FakeAtlassian, find_specs_dir,
};
use tracing_subscriber::EnvFilter;

/// Credentials a fresh fake knows, for `--help`.
const IDENTITY_HELP: &str = "\
Identity (one origin serves auth.atlassian.com, api.atlassian.com and the site):
  OAuth client      gojira-test-client / gojira-test-secret (any http://127.0.0.1 or localhost redirect URI)
  user              5b10ac8d82e05b22cc7d4ef5 admin@example.com (org admin; consents at /authorize)
  site              cloud id 11111111-2222-3333-4444-555555555555, name sandbox, url = this server
  org admin key     Bearer fake-org-admin-key (only on /admin/... and /users/...)
  other credentials are accepted as the default user (the fake is lenient; tests can make it strict)
Point the server at it: ATLASSIAN_SITE_URL, ATLASSIAN_API_BASE_URL (and the auth URL) = the base URL.";

/// In-memory fake of the Atlassian Cloud REST APIs (Jira, JSM, Confluence,
/// Assets, Admin, Automation), driven by their OpenAPI specs, with an OAuth
/// 2.0 (3LO) authorization server on the same origin.
#[derive(Debug, Parser)]
#[command(name = "fake-atlassian", version, after_help = IDENTITY_HELP)]
struct Args {
    /// Port to listen on (127.0.0.1 only; 0 = any free port).
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// Directory with the spec files (default: $GOJIRA_SPECS_DIR, specs/cache, ../shared/specs).
    #[arg(long, value_name = "DIR")]
    specs_dir: Option<PathBuf>,
    /// Wait this many milliseconds before answering every request (benchmarks:
    /// a stand-in for Atlassian's own latency).
    #[arg(long, value_name = "N", default_value_t = 0)]
    delay_ms: u64,
    /// Answer each operation's documented example from the spec, where it has
    /// one, instead of a minimal synthesized body (benchmarks: realistic sizes).
    #[arg(long)]
    examples: bool,
    /// Start from a small realistic tenant (projects, schemes, fields,
    /// filters, boards, service desks, Assets, Confluence spaces, an org)
    /// instead of an empty site; `--seed-file FILE` reads another one.
    #[arg(long)]
    seed: bool,
    /// A seed file of the shape of tests/fake-atlassian/seed/tenant.json (implies --seed).
    #[arg(long, value_name = "FILE")]
    seed_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let dir = match args.specs_dir {
        Some(dir) => dir,
        None => find_specs_dir().context(
            "no spec directory found: pass --specs-dir DIR, set GOJIRA_SPECS_DIR, \
             or run `cargo xtask fetch-specs`",
        )?,
    };
    let started = Instant::now();
    let mut fake = FakeAtlassian::load(&dir)?;
    if args.examples {
        fake = fake.with_examples();
    }
    if let Some(file) = &args.seed_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the seed file {}", file.display()))?;
        fake = fake.with_seed_text(&text)?;
    } else if args.seed {
        fake = fake.with_seed()?;
    }
    tracing::info!(dir = %dir.display(), elapsed_ms = started.elapsed().as_millis(), "specs loaded");
    let (operations, specs) = (fake.operation_count(), fake.spec_count());
    let mode = match (args.examples, fake.is_seeded()) {
        (true, true) => ", documented examples, seeded tenant",
        (true, false) => ", documented examples",
        (false, true) => ", seeded tenant",
        (false, false) => "",
    };
    let listening = |url: &str| {
        eprintln!(
            "fake-atlassian listening on {url} ({operations} operations from {specs} specs{mode}); \
             OAuth client {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}, user {DEFAULT_EMAIL} \
             ({DEFAULT_ACCOUNT_ID}), cloud id {DEFAULT_CLOUD_ID}, org admin key {DEFAULT_ORG_ADMIN_KEY}"
        );
    };
    if args.delay_ms > 0 {
        return serve_delayed(
            fake,
            args.port,
            Duration::from_millis(args.delay_ms),
            listening,
        )
        .await;
    }
    let handle = fake.serve(args.port).await?;
    listening(&handle.base_url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown();
    handle.stopped().await;
    Ok(())
}

/// Serves `fake` with `delay` before every answer, until Ctrl-C. The
/// library's handle has no delay knob (faults answer instead of routing), so
/// the binary wraps the in-process entry point in its own router.
async fn serve_delayed(
    fake: FakeAtlassian,
    port: u16,
    delay: Duration,
    listening: impl Fn(&str),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    listening(&format!("http://{}", listener.local_addr()?));
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let fake = fake.clone();
        async move {
            tokio::time::sleep(delay).await;
            fake.call(req).await
        }
    });
    // Like the library's server: no Nagle delays.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_is_an_opt_in_flag() {
        let off = Args::try_parse_from(["fake-atlassian"]).map(|a| a.examples);
        let on = Args::try_parse_from(["fake-atlassian", "--examples"]).map(|a| a.examples);
        assert_eq!((off.ok(), on.ok()), (Some(false), Some(true)));
    }

    #[test]
    fn seed_is_an_opt_in_flag() {
        let off = Args::try_parse_from(["fake-atlassian"]).map(|a| a.seed);
        let on = Args::try_parse_from(["fake-atlassian", "--seed"]).map(|a| a.seed);
        assert_eq!((off.ok(), on.ok()), (Some(false), Some(true)));
    }

    #[test]
    fn help_names_the_real_defaults() {
        for value in [
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            DEFAULT_ACCOUNT_ID,
            DEFAULT_EMAIL,
            DEFAULT_CLOUD_ID,
            DEFAULT_ORG_ADMIN_KEY,
        ] {
            assert!(IDENTITY_HELP.contains(value), "{value} missing from --help");
        }
    }
}
