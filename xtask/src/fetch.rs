//! `cargo xtask fetch-specs`: downloads every spec listed in `specs/sources.yaml` from its
//! official URL into `specs/cache/`, verifies sha256 and reports drift.
//!
//! A file is written only when its sha256 matches `sources.yaml` (or, with `accept_drift`,
//! when it does not — loudly). Writes are atomic: temp file in the destination + rename.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::sources::{Sources, SpecSource, info_version, sha256_hex, short_sha};

/// Largest spec body accepted (the biggest, Jira platform, is about 2.5 MB).
pub const MAX_SPEC_BYTES: u64 = 20 * 1024 * 1024;

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const MAX_REDIRECTS: u32 = 10;

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Base URL (`scheme://host[:port]`) replacing scheme and host of every official URL; the
    /// path is kept. For tests and mirrors.
    pub url_override: Option<String>,
    /// Timeout for each whole request (connect + headers + body).
    pub timeout: Duration,
    /// Write files whose sha256 differs from `sources.yaml` instead of failing.
    pub accept_drift: bool,
    /// Directories that may hold the recorded copy of a spec (`../shared/specs`): when
    /// Atlassian serves the same content in other bytes (our record is a re-serialized copy),
    /// that copy is kept instead of reporting drift.
    pub recorded_copies: Vec<PathBuf>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            url_override: None,
            timeout: DEFAULT_TIMEOUT,
            accept_drift: false,
            recorded_copies: Vec::new(),
        }
    }
}

/// What happened to one spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Downloaded, sha256 matched, written.
    Ok { bytes: u64 },
    /// The file in the destination already had the right sha256; nothing was downloaded.
    AlreadyFresh,
    /// Downloaded bytes differ from `sources.yaml` but parse to the same JSON as the recorded
    /// copy found in `from`, which was written instead (the record is a re-serialized copy).
    SameContent { from: PathBuf, bytes: u64 },
    /// Downloaded bytes differ from `sources.yaml`.
    Drift {
        expected_version: String,
        /// `info.version` of the downloaded body, if it has one.
        got_version: Option<String>,
        expected_sha: String,
        got_sha: String,
        bytes: u64,
        /// Written to the destination (only with `accept_drift`).
        written: bool,
    },
    /// Download or write failed; the message names the URL (and HTTP status, if any).
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub file: String,
    /// URL actually requested (after `url_override`).
    pub url: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    pub dest: PathBuf,
    pub files: Vec<FileReport>,
}

impl FetchReport {
    pub fn failed(&self) -> impl Iterator<Item = &FileReport> {
        self.files
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Failed(_)))
    }

    pub fn drifted(&self) -> impl Iterator<Item = &FileReport> {
        self.files
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Drift { .. }))
    }

    /// One paragraph saying what this run did; on a first run (nothing cached before) it
    /// says so, so that re-serialized copies kept or drift found read as what they are.
    pub fn summary(&self, first_run: bool) -> String {
        let count =
            |pred: fn(&Outcome) -> bool| self.files.iter().filter(|f| pred(&f.outcome)).count();
        let fetched = count(|o| matches!(o, Outcome::Ok { .. }));
        let fresh = count(|o| matches!(o, Outcome::AlreadyFresh));
        let kept = count(|o| matches!(o, Outcome::SameContent { .. }));
        let drifted = count(|o| matches!(o, Outcome::Drift { .. }));
        let failed = count(|o| matches!(o, Outcome::Failed(_)));
        let mut text = format!(
            "{}{} ({} spec files): {fetched} downloaded and verified (sha256 as recorded), \
             {fresh} already there, {kept} kept from the recorded copy (Atlassian serves the same \
             content in other bytes), {drifted} with new content (drift), {failed} failed",
            if first_run {
                "first fetch into "
            } else {
                "fetched into "
            },
            self.dest.display(),
            self.files.len()
        );
        if drifted == 0 && failed == 0 {
            text.push_str(". Every file matches specs/sources.yaml.");
        }
        text
    }

    /// `Ok` unless some file failed, or drifted without having been accepted.
    pub fn into_result(self, accept_drift: bool) -> anyhow::Result<FetchReport> {
        let failed: Vec<String> = self
            .failed()
            .map(|f| match &f.outcome {
                Outcome::Failed(msg) => format!("{}: {msg}", f.file),
                _ => f.file.clone(),
            })
            .collect();
        let drifted: Vec<String> = if accept_drift {
            Vec::new()
        } else {
            self.drifted().map(|f| f.file.clone()).collect()
        };
        if failed.is_empty() && drifted.is_empty() {
            return Ok(self);
        }
        let mut msg = String::new();
        if !failed.is_empty() {
            msg.push_str(&format!(
                "{} of {} spec downloads failed: {}",
                failed.len(),
                self.files.len(),
                failed.join("; ")
            ));
        }
        if !drifted.is_empty() {
            if !msg.is_empty() {
                msg.push_str(". ");
            }
            msg.push_str(&format!(
                "{} spec(s) differ from specs/sources.yaml and were not written: {}. Review the \
                 change, then update version/sha256 in specs/sources.yaml (or re-run with \
                 --accept-drift to keep the new files in {})",
                drifted.len(),
                drifted.join(", "),
                self.dest.display()
            ));
        }
        bail!(msg)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok { bytes } => write!(f, "ok ({bytes} bytes)"),
            Outcome::AlreadyFresh => write!(f, "already fresh (sha256 matches), not downloaded"),
            Outcome::SameContent { from, bytes } => write!(
                f,
                "Atlassian serves the same content in other bytes ({bytes} bytes; the recorded \
                 copy is re-serialized): kept the recorded copy from {}, which matches \
                 specs/sources.yaml",
                from.display()
            ),
            Outcome::Drift {
                expected_version,
                got_version,
                expected_sha,
                got_sha,
                bytes,
                written,
            } => {
                let got_version = got_version.as_deref().unwrap_or("<no info.version>");
                write!(
                    f,
                    "DRIFT: version {expected_version} -> {got_version}, sha256 {} -> {} ({bytes} bytes); ",
                    short_sha(expected_sha),
                    short_sha(got_sha)
                )?;
                if *written {
                    write!(
                        f,
                        "WRITTEN ANYWAY (--accept-drift): review it and update specs/sources.yaml \
                         to version {got_version:?}, sha256 {got_sha}"
                    )
                } else {
                    write!(f, "NOT written")
                }
            }
            Outcome::Failed(msg) => write!(f, "FAILED: {msg}"),
        }
    }
}

/// Downloads every spec into `dest`, then fails if any download failed or drifted (unless
/// `opts.accept_drift`). Every file is tried before failing; progress goes to stderr.
#[cfg_attr(not(test), allow(dead_code))]
pub fn fetch_specs(
    sources: &Sources,
    dest: &Path,
    opts: &FetchOptions,
) -> anyhow::Result<FetchReport> {
    fetch_all(sources, dest, opts)?.into_result(opts.accept_drift)
}

/// Like [`fetch_specs`] but returns the report whatever the per-file outcomes; errors only
/// when `dest` cannot be created or the override URL is unusable.
pub fn fetch_all(
    sources: &Sources,
    dest: &Path,
    opts: &FetchOptions,
) -> anyhow::Result<FetchReport> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let agent = build_agent(opts)?;
    let total = sources.specs.len();
    let mut files = Vec::with_capacity(total);
    for (i, spec) in sources.specs.iter().enumerate() {
        let url = effective_url(&spec.url, opts.url_override.as_deref())?;
        let outcome = fetch_one(&agent, spec, &url, dest, opts);
        eprintln!("[{}/{total}] {} … {outcome}", i + 1, spec.file);
        files.push(FileReport {
            file: spec.file.clone(),
            url,
            outcome,
        });
    }
    Ok(FetchReport {
        dest: dest.to_path_buf(),
        files,
    })
}

fn build_agent(opts: &FetchOptions) -> anyhow::Result<ureq::Agent> {
    let builder = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .max_redirects(MAX_REDIRECTS)
        .http_status_as_error(false)
        .user_agent(concat!("gojira-mcp-xtask/", env!("CARGO_PKG_VERSION")));
    // A loopback override (tests, local mirror) must not be sent through a proxy from the env.
    let builder = match opts.url_override.as_deref() {
        Some(base) if is_loopback(base) => builder.proxy(None),
        _ => builder,
    };
    Ok(builder.build().into())
}

fn is_loopback(base: &str) -> bool {
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| host.starts_with(h))
}

/// `url` with scheme and host replaced by `base` (path and query kept).
pub fn effective_url(url: &str, base: Option<&str>) -> anyhow::Result<String> {
    let Some(base) = base else {
        return Ok(url.to_string());
    };
    if !base.contains("://") {
        bail!("url override {base:?} must look like scheme://host[:port]");
    }
    let (_, after_scheme) = url
        .split_once("://")
        .with_context(|| format!("URL {url:?} has no scheme"))?;
    let path = after_scheme
        .find('/')
        .and_then(|i| after_scheme.get(i..))
        .unwrap_or("/");
    Ok(format!("{}{path}", base.trim_end_matches('/')))
}

fn fetch_one(
    agent: &ureq::Agent,
    spec: &SpecSource,
    url: &str,
    dest: &Path,
    opts: &FetchOptions,
) -> Outcome {
    let target = dest.join(&spec.file);
    if let Ok(existing) = std::fs::read(&target)
        && sha256_hex(&existing) == spec.sha256
    {
        return Outcome::AlreadyFresh;
    }
    let body = match download(agent, url) {
        Ok(body) => body,
        Err(msg) => return Outcome::Failed(msg),
    };
    let bytes = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let got_sha = sha256_hex(&body);
    if got_sha == spec.sha256 {
        return match write_atomic(dest, &spec.file, &body) {
            Ok(()) => Outcome::Ok { bytes },
            Err(err) => Outcome::Failed(format!("downloaded {url} but {err:#}")),
        };
    }
    if let Some((from, copy)) = recorded_copy(spec, &opts.recorded_copies)
        && same_json(&copy, &body)
    {
        return match write_atomic(dest, &spec.file, &copy) {
            Ok(()) => Outcome::SameContent { from, bytes },
            Err(err) => Outcome::Failed(format!("keeping the recorded copy: {err:#}")),
        };
    }
    let written = if opts.accept_drift {
        if let Err(err) = write_atomic(dest, &spec.file, &body) {
            return Outcome::Failed(format!("downloaded {url} (drifted) but {err:#}"));
        }
        true
    } else {
        false
    };
    Outcome::Drift {
        expected_version: spec.version.clone(),
        got_version: info_version(&body),
        expected_sha: spec.sha256.clone(),
        got_sha,
        bytes,
        written,
    }
}

/// The first copy of `spec` in `dirs` whose sha256 is the recorded one.
fn recorded_copy(spec: &SpecSource, dirs: &[PathBuf]) -> Option<(PathBuf, Vec<u8>)> {
    dirs.iter().find_map(|dir| {
        let bytes = std::fs::read(dir.join(&spec.file)).ok()?;
        (sha256_hex(&bytes) == spec.sha256).then(|| (dir.clone(), bytes))
    })
}

/// Both are JSON documents with equal content (key order and formatting aside).
fn same_json(a: &[u8], b: &[u8]) -> bool {
    let parse = |bytes: &[u8]| {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        serde_json::from_slice::<serde_json::Value>(bytes).ok()
    };
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

/// GET `url`, returning the body of a 2xx response or a message naming the URL.
fn download(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|err| format!("GET {url}: {err}"))?;
    let status = response.status();
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        return Err(format!("GET {url}: HTTP {} {reason}", status.as_u16())
            .trim_end()
            .to_string());
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_SPEC_BYTES)
        .read_to_vec()
        .map_err(|err| match err {
            ureq::Error::BodyExceedsLimit(_) => {
                format!("GET {url}: body exceeds the {MAX_SPEC_BYTES}-byte cap")
            }
            other => format!("GET {url}: reading body: {other}"),
        })
}

/// Writes `dir/file` via a temp file in `dir` and a rename, so readers never see a partial file.
fn write_atomic(dir: &Path, file: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let target = dir.join(file);
    let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, &target)
            .with_context(|| format!("renaming {} to {}", tmp.display(), target.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// (status, extra header line, body) per path.
    type Routes = HashMap<String, (u16, String, Vec<u8>)>;

    /// Minimal HTTP/1.1 server: one request per connection, `Connection: close`.
    /// Returns the base URL and a request counter.
    fn serve(routes: Routes) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
                let (status, header, body) = routes.get(&path).cloned().unwrap_or((
                    404,
                    String::new(),
                    b"not found".to_vec(),
                ));
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{header}\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (base, hits)
    }

    fn spec_for(file: &str, path: &str, body: &[u8], version: &str) -> SpecSource {
        SpecSource {
            file: file.to_string(),
            product: "test".to_string(),
            url: format!("https://developer.atlassian.invalid{path}"),
            version: version.to_string(),
            sha256: sha256_hex(body),
            fidelity: "test".to_string(),
            source: "test".to_string(),
        }
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gojira-fetch-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn opts(base: &str, accept_drift: bool) -> FetchOptions {
        FetchOptions {
            url_override: Some(base.to_string()),
            timeout: Duration::from_secs(10),
            accept_drift,
            recorded_copies: Vec::new(),
        }
    }

    const A: &[u8] = br#"{"openapi":"3.0.1","info":{"title":"A","version":"1.0"},"paths":{}}"#;
    const B: &[u8] = br#"{"info":{"version":"2.0","title":"B"},"paths":{"/x":{}}}"#;
    const B_NEW: &[u8] = br#"{"info":{"version":"2.1","title":"B"},"paths":{"/x":{},"/y":{}}}"#;
    const C: &[u8] = br#"{"info":{"version":"3"}}"#;

    fn route(body: &[u8]) -> (u16, String, Vec<u8>) {
        (200, String::new(), body.to_vec())
    }

    #[test]
    fn ok_path_writes_byte_exact_then_already_fresh_makes_no_request() {
        let mut routes = Routes::new();
        routes.insert("/specs/a.json".into(), route(A));
        // b.json is served through a redirect.
        routes.insert(
            "/old/b.json".into(),
            (302, "Location: /specs/b.json\r\n".into(), Vec::new()),
        );
        routes.insert("/specs/b.json".into(), route(B));
        let (base, hits) = serve(routes);
        let sources = Sources {
            specs: vec![
                spec_for("a.json", "/specs/a.json", A, "1.0"),
                spec_for("b.json", "/old/b.json", B, "2.0"),
            ],
        };
        let dest = scratch_dir("ok");
        let report = fetch_specs(&sources, &dest, &opts(&base, false)).unwrap();
        assert_eq!(
            report.files[0].outcome,
            Outcome::Ok {
                bytes: A.len() as u64
            }
        );
        assert_eq!(
            report.files[1].outcome,
            Outcome::Ok {
                bytes: B.len() as u64
            }
        );
        assert_eq!(std::fs::read(dest.join("a.json")).unwrap(), A);
        assert_eq!(std::fs::read(dest.join("b.json")).unwrap(), B);
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 2);

        // Second run: both fresh, no request at all.
        let report = fetch_specs(&sources, &dest, &opts(&base, false)).unwrap();
        assert!(
            report
                .files
                .iter()
                .all(|f| f.outcome == Outcome::AlreadyFresh)
        );
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        let _ = std::fs::remove_dir_all(dest);
    }

    #[test]
    fn drift_is_reported_and_not_written_404_fails_others_still_tried() {
        let mut routes = Routes::new();
        routes.insert("/b.json".into(), route(B_NEW));
        routes.insert("/c.json".into(), route(C));
        let (base, hits) = serve(routes);
        let sources = Sources {
            specs: vec![
                spec_for("a.json", "/a.json", A, "1.0"), // 404
                spec_for("b.json", "/b.json", B, "2.0"), // drift
                spec_for("c.json", "/c.json", C, "3"),   // ok
            ],
        };
        let dest = scratch_dir("drift");
        std::fs::create_dir_all(&dest).unwrap();
        // An old (stale) cached b.json must survive the drift.
        std::fs::write(dest.join("b.json"), b"stale").unwrap();

        let report = fetch_all(&sources, &dest, &opts(&base, false)).unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        match &report.files[0].outcome {
            Outcome::Failed(msg) => {
                assert!(msg.contains("404"), "{msg}");
                assert!(msg.contains(&format!("{base}/a.json")), "{msg}");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        assert_eq!(
            report.files[1].outcome,
            Outcome::Drift {
                expected_version: "2.0".into(),
                got_version: Some("2.1".into()),
                expected_sha: sha256_hex(B),
                got_sha: sha256_hex(B_NEW),
                bytes: B_NEW.len() as u64,
                written: false,
            }
        );
        assert_eq!(
            report.files[2].outcome,
            Outcome::Ok {
                bytes: C.len() as u64
            }
        );
        assert!(!dest.join("a.json").exists());
        assert_eq!(std::fs::read(dest.join("b.json")).unwrap(), b"stale");
        assert_eq!(std::fs::read(dest.join("c.json")).unwrap(), C);

        let err = report.into_result(false).unwrap_err().to_string();
        assert!(err.contains("a.json") && err.contains("404"), "{err}");
        assert!(
            err.contains("b.json") && err.contains("sources.yaml"),
            "{err}"
        );

        // fetch_specs turns the same situation into an error (c.json is now fresh).
        assert!(fetch_specs(&sources, &dest, &opts(&base, false)).is_err());
        let _ = std::fs::remove_dir_all(dest);
    }

    #[test]
    fn accept_drift_writes_the_new_bytes() {
        let mut routes = Routes::new();
        routes.insert("/b.json".into(), route(B_NEW));
        let (base, _hits) = serve(routes);
        let sources = Sources {
            specs: vec![spec_for("b.json", "/b.json", B, "2.0")],
        };
        let dest = scratch_dir("accept");
        let report = fetch_specs(&sources, &dest, &opts(&base, true)).unwrap();
        match &report.files[0].outcome {
            Outcome::Drift {
                written,
                got_version,
                ..
            } => {
                assert!(*written);
                assert_eq!(got_version.as_deref(), Some("2.1"));
            }
            other => panic!("expected Drift, got {other:?}"),
        }
        assert!(
            report.files[0]
                .outcome
                .to_string()
                .contains("WRITTEN ANYWAY")
        );
        assert_eq!(std::fs::read(dest.join("b.json")).unwrap(), B_NEW);
        let _ = std::fs::remove_dir_all(dest);
    }

    #[test]
    fn first_fetch_keeps_a_recorded_copy_with_the_same_content_instead_of_reporting_drift() {
        // Atlassian serves B pretty-printed with its keys in another order; our record is B.
        let official = b"{\n  \"paths\": {\"/x\": {}},\n  \"info\": {\"title\": \"B\", \"version\": \"2.0\"}\n}\n";
        let mut routes = Routes::new();
        routes.insert("/b.json".into(), route(official));
        routes.insert("/b2.json".into(), route(B_NEW));
        let (base, _hits) = serve(routes);
        let shared = scratch_dir("same-shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(shared.join("b.json"), B).unwrap();
        std::fs::write(shared.join("b2.json"), B).unwrap();
        let sources = Sources {
            specs: vec![
                spec_for("b.json", "/b.json", B, "2.0"),
                spec_for("b2.json", "/b2.json", B, "2.0"),
            ],
        };
        let dest = scratch_dir("same");
        let mut options = opts(&base, false);
        options.recorded_copies = vec![shared.clone()];
        let report = fetch_all(&sources, &dest, &options).unwrap();
        assert_eq!(
            report.files[0].outcome,
            Outcome::SameContent {
                from: shared.clone(),
                bytes: official.len() as u64
            }
        );
        // The recorded bytes are what the cache holds now.
        assert_eq!(std::fs::read(dest.join("b.json")).unwrap(), B);
        // Other content is still drift.
        assert!(matches!(
            report.files[1].outcome,
            Outcome::Drift { written: false, .. }
        ));
        let summary = report.summary(true);
        assert!(summary.starts_with("first fetch into "), "{summary}");
        assert!(
            summary.contains("1 kept from the recorded copy"),
            "{summary}"
        );
        assert!(summary.contains("1 with new content (drift)"), "{summary}");
        let err = report.into_result(false).unwrap_err().to_string();
        assert!(err.contains("b2.json") && !err.contains("b.json,"), "{err}");
        let _ = std::fs::remove_dir_all(dest);
        let _ = std::fs::remove_dir_all(shared);
    }

    #[test]
    fn oversized_body_fails() {
        let big = vec![b' '; (MAX_SPEC_BYTES + 1) as usize];
        let mut routes = Routes::new();
        routes.insert("/big.json".into(), route(&big));
        let (base, _hits) = serve(routes);
        let sources = Sources {
            specs: vec![spec_for("big.json", "/big.json", A, "1.0")],
        };
        let dest = scratch_dir("big");
        let report = fetch_all(&sources, &dest, &opts(&base, true)).unwrap();
        match &report.files[0].outcome {
            Outcome::Failed(msg) => assert!(msg.contains("cap"), "{msg}"),
            other => panic!("expected Failed, got {other:?}"),
        }
        assert!(!dest.join("big.json").exists());
        let _ = std::fs::remove_dir_all(dest);
    }

    #[test]
    fn url_override_replaces_scheme_and_host_only() {
        let url = "https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json";
        assert_eq!(effective_url(url, None).unwrap(), url);
        assert_eq!(
            effective_url(url, Some("http://127.0.0.1:8080/")).unwrap(),
            "http://127.0.0.1:8080/cloud/jira/platform/swagger-v3.v3.json"
        );
        assert_eq!(
            effective_url("https://h.example", Some("http://m")).unwrap(),
            "http://m/"
        );
        assert!(effective_url(url, Some("127.0.0.1:8080")).is_err());
        assert!(is_loopback("http://127.0.0.1:1") && !is_loopback("https://mirror.example"));
    }
}
