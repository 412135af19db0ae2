#!/usr/bin/env bash
# A data contract check for CI, run against a Tributary server: the schema of a source must match its committed
# snapshot, and a query must hold. Uses only the tributary CLI and its --json output (no jq needed).
#   TRIBUTARY_URL  the server's MCP endpoint, such as http://127.0.0.1:8080/mcp
#   TRIBUTARY_BIN  how to run the CLI (default: tributary)
#   SNAPSHOT       the committed schema snapshot (default: this folder's schema-snapshot.json)
# Exit codes: 0 the contract holds; 1 it does not; 3 the server could not be reached (the CLI's own code).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${TRIBUTARY_BIN:-tributary}"
snapshot="${SNAPSHOT:-$here/schema-snapshot.json}"

schema="$($bin schema shop --json)"
if [ "$schema" != "$(cat "$snapshot")" ]; then
  echo "the schema of source 'shop' differs from $snapshot:" >&2
  diff <(echo "$schema") "$snapshot" >&2 || true
  echo "if the change is intended, update the snapshot: $bin schema shop --json > $snapshot" >&2
  exit 1
fi

negative="$($bin query shop "SELECT count(*) AS n FROM orders WHERE total_cents < 0" --json)"
if [ "$negative" != '{"n":0}' ]; then
  echo "orders with a negative total: $negative" >&2
  exit 1
fi

echo "data contract of 'shop' holds"
