#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from Go modules into a per-version
# cache outside the clone and links them into bin/k8s. A fresh clone (CI) reuses
# the cache; a version bump in hack/envtest/go.mod gets a new cache directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# The cache key covers the module files and this script, so any pin or flag
# change rebuilds.
key="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-16)"
k8s="$(grep -Eo 'k8s.io/kubernetes v[0-9][^ ]*' "$here/go.mod" | head -1 | cut -d' ' -f2)"
cache="${PVE_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pve-operator}/envtest/${k8s}-${key}"
out="$root/bin/k8s"

if [[ ! -x "$cache/kube-apiserver" || ! -x "$cache/etcd" || ! -x "$cache/kubectl" ]]; then
	echo "building kube-apiserver, etcd and kubectl ${k8s} into ${cache} (first time takes several minutes)" >&2
	mkdir -p "$cache.tmp"
	(
		cd "$here"
		export CGO_ENABLED=0
		minor="${k8s#v1.}"; minor="${minor%%.*}"
		# Stamp the version the way Kubernetes' release build does, so
		# `kube-apiserver --version` and kubectl's skew checks tell the truth.
		ldflags="-X k8s.io/component-base/version.gitVersion=${k8s} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
		go build -trimpath -ldflags "$ldflags" -o "$cache.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
		go build -trimpath -o "$cache.tmp/etcd" go.etcd.io/etcd/server/v3
		go build -trimpath -ldflags "$ldflags" -o "$cache.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
	)
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
fi

mkdir -p "$out"
for b in kube-apiserver etcd kubectl; do
	ln -sfn "$cache/$b" "$out/$b"
done
echo "$out"
