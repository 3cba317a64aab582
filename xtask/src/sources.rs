//! `specs/sources.yaml`: where each Atlassian OpenAPI spec comes from, which bytes we expect
//! (sha256 + `info.version`), and where the spec files are looked up on this machine.
//!
//! The spec files are Atlassian's and never committed. Lookup order (first match wins):
//! `$GOJIRA_SPECS_DIR` (must hold every file), `specs/cache/` (git-ignored, filled by
//! `cargo xtask fetch-specs`), `../shared/specs/`.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Environment variable naming a directory that holds all spec files.
pub const SPECS_DIR_ENV: &str = "GOJIRA_SPECS_DIR";

/// Contents of `specs/sources.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    pub specs: Vec<SpecSource>,
}

/// One spec file and its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecSource {
    /// File name inside the specs directory, e.g. `jira-platform.json`.
    pub file: String,
    /// The API the spec describes.
    pub product: String,
    /// Official download URL.
    pub url: String,
    /// Expected `info.version`.
    pub version: String,
    /// Expected sha256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// How our copy relates to what Atlassian served (byte-exact, re-serialized, ...).
    pub fidelity: String,
    /// Where our copy came from.
    pub source: String,
}

/// `<root>/specs/sources.yaml`.
pub fn sources_path(root: &Path) -> PathBuf {
    root.join("specs").join("sources.yaml")
}

/// `<root>/specs/cache`, the git-ignored download directory.
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join("specs").join("cache")
}

/// Reads and validates `sources.yaml`.
pub fn load(path: &Path) -> anyhow::Result<Sources> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// Parses and validates the text of `sources.yaml`.
pub fn parse(text: &str) -> anyhow::Result<Sources> {
    let sources: Sources =
        serde_saphyr::from_str(text).context("sources.yaml does not match the expected shape")?;
    validate(&sources)?;
    Ok(sources)
}

fn validate(sources: &Sources) -> anyhow::Result<()> {
    if sources.specs.is_empty() {
        bail!("sources.yaml lists no specs");
    }
    let mut seen = std::collections::BTreeSet::new();
    for spec in &sources.specs {
        let file = spec.file.as_str();
        let plain_name = !file.is_empty()
            && file != "."
            && file != ".."
            && !file.contains(['/', '\\', ':'])
            && !file.starts_with('.');
        if !plain_name {
            bail!("spec file {file:?} must be a plain file name (no directories)");
        }
        if !seen.insert(file) {
            bail!("spec file {file:?} is listed twice");
        }
        if !(spec.url.starts_with("https://") || spec.url.starts_with("http://")) {
            bail!("{file}: url {:?} is not an http(s) URL", spec.url);
        }
        let sha_ok = spec.sha256.len() == 64
            && spec
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !sha_ok {
            bail!(
                "{file}: sha256 {:?} must be 64 lowercase hex digits",
                spec.sha256
            );
        }
        if spec.version.is_empty() {
            bail!("{file}: version is empty");
        }
    }
    Ok(())
}

/// Where a specs directory was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecsOrigin {
    /// `$GOJIRA_SPECS_DIR`.
    Env,
    /// `<root>/specs/cache`.
    Cache,
    /// `<root>/../shared/specs`.
    Shared,
}

impl fmt::Display for SpecsOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecsOrigin::Env => "$GOJIRA_SPECS_DIR",
            SpecsOrigin::Cache => "specs/cache",
            SpecsOrigin::Shared => "../shared/specs",
        })
    }
}

/// A directory holding every spec file listed in `sources.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecsDir {
    pub path: PathBuf,
    pub origin: SpecsOrigin,
}

/// Finds the directory to read specs from, in lookup order:
/// `$GOJIRA_SPECS_DIR` (if set, it must hold every file, else this is an error),
/// `<root>/specs/cache` (if it holds every file), `<root>/../shared/specs` (if it holds every file).
/// Only presence is checked here; use [`verify_dir`] for sha256 / version checks.
pub fn find_specs_dir(root: &Path, sources: &Sources) -> anyhow::Result<SpecsDir> {
    find_specs_dir_with(root, sources, std::env::var_os(SPECS_DIR_ENV))
}

/// [`find_specs_dir`] with the value of `$GOJIRA_SPECS_DIR` passed in (testable without
/// touching the process environment).
pub fn find_specs_dir_with(
    root: &Path,
    sources: &Sources,
    env_dir: Option<OsString>,
) -> anyhow::Result<SpecsDir> {
    if let Some(dir) = env_dir.filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir);
        let missing = missing_files(&path, sources);
        if !missing.is_empty() {
            bail!(
                "{SPECS_DIR_ENV}={} is missing {} of {} spec files: {}",
                path.display(),
                missing.len(),
                sources.specs.len(),
                missing.join(", ")
            );
        }
        return Ok(SpecsDir {
            path,
            origin: SpecsOrigin::Env,
        });
    }
    let candidates = [
        (cache_dir(root), SpecsOrigin::Cache),
        (
            root.join("..").join("shared").join("specs"),
            SpecsOrigin::Shared,
        ),
    ];
    let mut tried = Vec::new();
    for (path, origin) in candidates {
        let missing = missing_files(&path, sources);
        if missing.is_empty() {
            return Ok(SpecsDir { path, origin });
        }
        tried.push(format!(
            "{} (missing {} of {}: {})",
            path.display(),
            missing.len(),
            sources.specs.len(),
            missing.join(", ")
        ));
    }
    bail!(
        "no directory holds all spec files; {SPECS_DIR_ENV} is not set and tried: {}. \
         Run `cargo xtask fetch-specs` or set {SPECS_DIR_ENV}",
        tried.join("; ")
    )
}

fn missing_files<'a>(dir: &Path, sources: &'a Sources) -> Vec<&'a str> {
    sources
        .specs
        .iter()
        .filter(|s| !dir.join(&s.file).is_file())
        .map(|s| s.file.as_str())
        .collect()
}

/// Result of checking one spec file in a directory against `sources.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    pub file: String,
    pub path: PathBuf,
    /// The file exists (and is a regular file).
    pub present: bool,
    /// Error reading the file, if it exists but could not be read.
    pub read_error: Option<String>,
    pub expected_sha256: String,
    /// sha256 of the bytes on disk, when readable.
    pub actual_sha256: Option<String>,
    pub expected_version: String,
    /// `info.version` found in the file, when it parses that far.
    pub found_version: Option<String>,
}

impl FileStatus {
    pub fn sha256_matches(&self) -> bool {
        self.actual_sha256.as_deref() == Some(self.expected_sha256.as_str())
    }

    pub fn version_matches(&self) -> bool {
        self.found_version.as_deref() == Some(self.expected_version.as_str())
    }

    /// Present, readable and byte-identical to what `sources.yaml` records.
    pub fn is_ok(&self) -> bool {
        self.present && self.read_error.is_none() && self.sha256_matches()
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if !self.present {
            return write!(f, "MISSING ({})", self.path.display());
        }
        if let Some(err) = &self.read_error {
            return write!(f, "UNREADABLE ({err})");
        }
        if self.sha256_matches() {
            write!(f, "ok (version {})", self.expected_version)
        } else {
            let got_sha = self.actual_sha256.as_deref().unwrap_or("?");
            let got_version = self.found_version.as_deref().unwrap_or("<none>");
            write!(
                f,
                "DRIFT sha256 {} (expected {}), version {got_version} (expected {})",
                short_sha(got_sha),
                short_sha(&self.expected_sha256),
                self.expected_version
            )
        }
    }
}

/// Checks every spec file of `sources` in `dir`: presence, sha256, `info.version`.
pub fn verify_dir(dir: &Path, sources: &Sources) -> Vec<FileStatus> {
    sources
        .specs
        .iter()
        .map(|spec| {
            let path = dir.join(&spec.file);
            let mut status = FileStatus {
                file: spec.file.clone(),
                path: path.clone(),
                present: path.is_file(),
                read_error: None,
                expected_sha256: spec.sha256.clone(),
                actual_sha256: None,
                expected_version: spec.version.clone(),
                found_version: None,
            };
            if status.present {
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        status.actual_sha256 = Some(sha256_hex(&bytes));
                        status.found_version = info_version(&bytes);
                    }
                    Err(err) => status.read_error = Some(err.to_string()),
                }
            }
            status
        })
        .collect()
}

/// What to run when a spec file differs from its record.
pub const UPDATE_RECORD_HINT: &str = "Run `cargo xtask fetch-specs` to fetch the recorded bytes \
     into specs/cache/, or, if the file found is the spec update you want, `cargo xtask \
     fetch-specs --record` to record its sha256 and version in specs/sources.yaml (then `cargo \
     xtask regen`, review, and commit both)";

/// One line per spec file in `dir` whose bytes are not the ones `sources.yaml` records,
/// naming the file's path and both sha256 values.
pub fn unrecorded(dir: &SpecsDir, sources: &Sources) -> Vec<String> {
    verify_dir(&dir.path, sources)
        .into_iter()
        .filter(|status| status.present && !status.is_ok())
        .map(|status| {
            let found = status.actual_sha256.as_deref().unwrap_or("?");
            format!(
                "{} (from {}) has sha256 {} but specs/sources.yaml records {} (version {} found, {} recorded)",
                status.path.display(),
                dir.origin,
                short_sha(found),
                short_sha(&status.expected_sha256),
                status.found_version.as_deref().unwrap_or("<none>"),
                status.expected_version,
            )
        })
        .collect()
}

/// Rewrites `version` and `sha256` of the entry for `file` in the text of `sources.yaml`,
/// keeping every other line (comments, order, the other fields) as it is.
pub fn record_in_text(
    text: &str,
    file: &str,
    version: &str,
    sha256: &str,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut in_entry = false;
    let (mut version_done, mut sha_done) = (false, false);
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("- file:") {
            in_entry = name.trim().trim_matches('"') == file;
        }
        let indent = &line[..line.len() - trimmed.len()];
        let newline = if line.ends_with('\n') { "\n" } else { "" };
        if in_entry && trimmed.starts_with("version:") && !version_done {
            let quoted = serde_json::to_string(version).unwrap_or_default();
            out.push_str(&format!("{indent}version: {quoted}{newline}"));
            version_done = true;
        } else if in_entry && trimmed.starts_with("sha256:") && !sha_done {
            out.push_str(&format!("{indent}sha256: {sha256}{newline}"));
            sha_done = true;
        } else {
            out.push_str(line);
        }
    }
    if !(version_done && sha_done) {
        bail!("specs/sources.yaml has no entry for {file} with version and sha256 lines");
    }
    // The result must still be a valid record, and say what was asked.
    let check = parse(&out)?;
    let entry = check.specs.iter().find(|s| s.file == file);
    if !entry.is_some_and(|s| s.sha256 == sha256 && s.version == version) {
        bail!("rewriting the entry for {file} in specs/sources.yaml failed");
    }
    Ok(out)
}

/// Records `version` and `sha256` for `file` in the `sources.yaml` at `path`.
pub fn record(path: &Path, file: &str, version: &str, sha256: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let updated = record_in_text(&text, file, version, sha256)?;
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// First 12 hex digits, for messages.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// `info.version` of a JSON OpenAPI document, if the bytes are JSON (a leading UTF-8 BOM is
/// tolerated) with a string at `info.version`.
pub fn info_version(json: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Doc {
        info: Info,
    }
    #[derive(Deserialize)]
    struct Info {
        version: String,
    }
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    serde_json::from_slice::<Doc>(json)
        .ok()
        .map(|doc| doc.info.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(file: &str, body: &[u8], version: &str) -> SpecSource {
        SpecSource {
            file: file.to_string(),
            product: "test".to_string(),
            url: format!("https://example.invalid/{file}"),
            version: version.to_string(),
            sha256: sha256_hex(body),
            fidelity: "test".to_string(),
            source: "test".to_string(),
        }
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gojira-sources-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn real_sources_yaml_parses_and_is_consistent() {
        let sources = parse(include_str!("../../specs/sources.yaml")).unwrap();
        assert_eq!(sources.specs.len(), 9);
        let files: Vec<&str> = sources.specs.iter().map(|s| s.file.as_str()).collect();
        assert!(files.contains(&"jira-platform.json"));
        assert!(files.contains(&"automation.json"));
        for s in &sources.specs {
            assert!(
                s.url.starts_with("https://developer.atlassian.com/"),
                "{}",
                s.url
            );
        }
    }

    #[test]
    fn rejects_unknown_fields_bad_sha_and_paths() {
        let ok = "specs:\n  - file: a.json\n    product: p\n    url: https://x/a.json\n    version: \"1\"\n    sha256: 0000000000000000000000000000000000000000000000000000000000000000\n    fidelity: f\n    source: s\n";
        parse(ok).unwrap();
        assert!(parse(&ok.replace("    source: s\n", "    source: s\n    extra: 1\n")).is_err());
        assert!(parse(&ok.replace("0000000000000000", "000000000000000G")).is_err());
        assert!(parse(&ok.replace("file: a.json", "file: ../a.json")).is_err());
        assert!(parse(&ok.replace("url: https://x/a.json", "url: ftp://x/a.json")).is_err());
    }

    #[test]
    fn info_version_extraction() {
        let doc = br#"{"components":{"schemas":{"X":{"a":[1,2,{"b":"}]\"{"}],"n":null,"t":true}}},
            "openapi":"3.0.1", "info" : { "title":"T\u00e9", "description":"x\"y", "version" : "1001.0.0-SNAPSHOT-abc" }}"#;
        assert_eq!(info_version(doc).as_deref(), Some("1001.0.0-SNAPSHOT-abc"));
        assert_eq!(
            info_version(br#"{"info":{"version":"\ud83d\ude00 1"}}"#).as_deref(),
            Some("\u{1F600} 1")
        );
        assert_eq!(
            info_version(b"\xEF\xBB\xBF{\"info\":{\"version\":\"2\"}}").as_deref(),
            Some("2")
        );
        assert_eq!(info_version(br#"{"info":{"version":1}}"#), None);
        assert_eq!(info_version(br#"{"info":{"title":"x"}}"#), None);
        assert_eq!(info_version(br#"{"openapi":"3"}"#), None);
        assert_eq!(info_version(b"<html>not json</html>"), None);
        assert_eq!(info_version(b""), None);
        assert_eq!(info_version(br#"{"info":{"version":"unterminated"#), None);
    }

    #[test]
    fn lookup_order_and_verify() {
        let root = scratch_dir("lookup").join("repo");
        let shared = root.join("..").join("shared").join("specs");
        let cache = cache_dir(&root);
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        let a = br#"{"info":{"version":"1.0"}}"#;
        let b = br#"{"info":{"version":"2.0"}}"#;
        let sources = Sources {
            specs: vec![spec("a.json", a, "1.0"), spec("b.json", b, "2.0")],
        };

        // Nothing anywhere: error naming both candidates.
        let err = find_specs_dir_with(&root, &sources, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.json") && err.contains("cache"), "{err}");

        // Only shared complete.
        std::fs::write(shared.join("a.json"), a).unwrap();
        std::fs::write(shared.join("b.json"), b).unwrap();
        std::fs::write(cache.join("a.json"), a).unwrap();
        let found = find_specs_dir_with(&root, &sources, None).unwrap();
        assert_eq!(found.origin, SpecsOrigin::Shared);

        // Cache complete wins over shared (b.json drifted: different bytes).
        std::fs::write(cache.join("b.json"), br#"{"info":{"version":"2.1"}}"#).unwrap();
        let found = find_specs_dir_with(&root, &sources, None).unwrap();
        assert_eq!(found.origin, SpecsOrigin::Cache);
        let status = verify_dir(&found.path, &sources);
        assert!(status[0].is_ok() && status[0].version_matches());
        assert!(!status[1].is_ok());
        assert_eq!(status[1].found_version.as_deref(), Some("2.1"));
        assert!(status[1].to_string().contains("DRIFT"), "{}", status[1]);

        // Env var wins, and an incomplete env dir is an error (no fallback).
        let env_dir = scratch_dir("lookup-env");
        std::fs::write(env_dir.join("a.json"), a).unwrap();
        let err = find_specs_dir_with(&root, &sources, Some(env_dir.clone().into_os_string()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GOJIRA_SPECS_DIR") && err.contains("b.json"),
            "{err}"
        );
        std::fs::write(env_dir.join("b.json"), b).unwrap();
        let found =
            find_specs_dir_with(&root, &sources, Some(env_dir.clone().into_os_string())).unwrap();
        assert_eq!(found.origin, SpecsOrigin::Env);
        assert!(
            verify_dir(&found.path, &sources)
                .iter()
                .all(FileStatus::is_ok)
        );
        // Empty env value counts as unset.
        let found = find_specs_dir_with(&root, &sources, Some(OsString::new())).unwrap();
        assert_eq!(found.origin, SpecsOrigin::Cache);

        // Missing file reported as such.
        std::fs::remove_file(cache.join("a.json")).unwrap();
        let status = verify_dir(&cache, &sources);
        assert!(!status[0].present && status[0].to_string().contains("MISSING"));

        let _ = std::fs::remove_dir_all(root.parent().unwrap());
        let _ = std::fs::remove_dir_all(env_dir);
    }

    #[test]
    fn record_rewrites_one_entry_and_keeps_the_rest() {
        let text = include_str!("../../specs/sources.yaml");
        let sha = "ab".repeat(32);
        let updated = record_in_text(text, "jsm.json", "1001.0.0-NEW", &sha).unwrap();
        let before = parse(text).unwrap();
        let after = parse(&updated).unwrap();
        for (old, new) in before.specs.iter().zip(&after.specs) {
            if new.file == "jsm.json" {
                assert_eq!(
                    (new.version.as_str(), new.sha256.as_str()),
                    ("1001.0.0-NEW", sha.as_str())
                );
                assert_eq!((&new.url, &new.fidelity), (&old.url, &old.fidelity));
            } else {
                assert_eq!(old, new);
            }
        }
        // Comments and layout stay: only two lines differ.
        let changed = text
            .lines()
            .zip(updated.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, 2);
        assert_eq!(text.lines().count(), updated.lines().count());
        assert!(record_in_text(text, "nope.json", "1", &sha).is_err());
    }
}
