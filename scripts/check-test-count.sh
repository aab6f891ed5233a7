#!/usr/bin/env bash
# Fails unless the Swift Testing summary in LOG reports at least one test and no failure.
# Usage: scripts/check-test-count.sh LOG
set -euo pipefail
log=${1:?usage: check-test-count.sh LOG}
summary=$(grep -E 'Test run with [0-9]+ tests?' "$log" | tail -n 1 || true)
if [ -z "$summary" ]; then
  echo "check-test-count: no Swift Testing summary found in $log — did any test run?" >&2
  exit 1
fi
count=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")
if [ "$count" -eq 0 ]; then
  echo "check-test-count: the test run executed 0 tests ($summary)" >&2
  exit 1
fi
if grep -q 'failed after' <<<"$summary"; then
  echo "check-test-count: $summary" >&2
  exit 1
fi
echo "check-test-count: $count tests ran and passed."
