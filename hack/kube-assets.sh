#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) and the e2e suite's
# kube-controller-manager and kube-scheduler from source into a cache outside
# the clone, keyed by version, and prints the folder to use as
# KUBEBUILDER_ASSETS. Builds only the binaries that are missing.
# Nothing is downloaded but Go modules: envtest release binaries are not
# reachable from where this project is built and tested.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${KUBE_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-api-provider-vpsie/kube-assets}"
OUT="${CACHE_ROOT}/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

BINARIES=(kube-apiserver etcd kube-controller-manager kube-scheduler)
missing=()
for b in "${BINARIES[@]}"; do
  [[ -x "${OUT}/${b}" ]] || missing+=("${b}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
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

for b in "${missing[@]}"; do
  case "${b}" in
    etcd)
      echo "building etcd ${ETCD_VERSION}" >&2
      go build -trimpath -ldflags "-s -w" -o "${OUT}/etcd.tmp" go.etcd.io/etcd/server/v3 ;;
    *)
      echo "building ${b} ${KUBE_VERSION} (cold: kube-apiserver ~8 minutes on 2 cores, the others ~3 each)" >&2
      go build -trimpath -ldflags "${ldflags}" -o "${OUT}/${b}.tmp" "k8s.io/kubernetes/cmd/${b}" ;;
  esac
  # Rename last so an interrupted build never leaves a half-written binary that
  # the fast path above would trust.
  mv "${OUT}/${b}.tmp" "${OUT}/${b}"
done
echo "${OUT}"
