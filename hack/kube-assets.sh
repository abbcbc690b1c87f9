#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from source into a
# cache outside the clone, keyed by version, and prints the folder to use as
# KUBEBUILDER_ASSETS. Reuses a previous build when both binaries are present.
# Nothing is downloaded but Go modules: envtest release binaries are not
# reachable from where this project is built and tested.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${KUBE_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-api-provider-vpsie/kube-assets}"
OUT="${CACHE_ROOT}/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ -x "${OUT}/kube-apiserver" && -x "${OUT}/etcd" ]]; then
  echo "${OUT}"
  exit 0
fi

mkdir -p "${OUT}"
cd "${HERE}/kube-assets"

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
# Unstamped builds report v0.0.0-master, which client version checks reject.
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"

echo "building kube-apiserver ${KUBE_VERSION} (cold: ~8 minutes on 2 cores)" >&2
go build -trimpath -ldflags "${ldflags}" -o "${OUT}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
echo "building etcd ${ETCD_VERSION}" >&2
go build -trimpath -ldflags "-s -w" -o "${OUT}/etcd.tmp" go.etcd.io/etcd/server/v3
# Rename last so an interrupted build never leaves a half-written binary that
# the fast path above would trust.
mv "${OUT}/kube-apiserver.tmp" "${OUT}/kube-apiserver"
mv "${OUT}/etcd.tmp" "${OUT}/etcd"
echo "${OUT}"
