#!/usr/bin/env bash
# Fails when the statement coverage in a Go cover profile is below a minimum.
# Usage: hack/check-coverage.sh <profile> <minimum percent>
set -euo pipefail
profile="$1"; min="$2"
total="$(go tool cover -func="${profile}" | awk '/^total:/ {gsub("%","",$3); print $3}')"
echo "VPSie client statement coverage: ${total}% (minimum ${min}%)"
awk -v t="${total}" -v m="${min}" 'BEGIN { exit !(t + 0 >= m + 0) }' || {
  echo "coverage below ${min}%" >&2
  exit 1
}
