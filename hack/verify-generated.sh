#!/usr/bin/env bash
# Regenerates code and manifests and fails if anything changed. Compares the
# working tree before and after (not against HEAD), so it works both in a
# clean CI clone and in a work tree with uncommitted edits.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(api config/crd/bases config/rbac charts/pve-operator/files/crds)
before="$(mktemp -d)"
trap 'rm -rf "$before"' EXIT
for p in "${paths[@]}"; do
	mkdir -p "$before/$p"
	[[ -d "$p" ]] && cp -a "$p/." "$before/$p/"
done

make --no-print-directory generate manifests >/dev/null

status=0
for p in "${paths[@]}"; do
	if ! diff -ruN "$before/$p" "$p"; then
		status=1
	fi
done
if [[ $status -ne 0 ]]; then
	echo "generated files were stale: run 'make generate manifests' and commit the result" >&2
	exit 1
fi
echo "generated files are up to date"
