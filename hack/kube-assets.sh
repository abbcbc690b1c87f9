#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) and the e2e suite's
# kube-controller-manager, kube-scheduler and kwok (with kwok's stock node and
# pod stages, kwok-stages.yaml) from source into a cache outside the clone,
# keyed by version, and prints the folder to use as KUBEBUILDER_ASSETS. Builds
# only what is missing.
# Nothing is downloaded but Go modules: envtest release binaries are not
# reachable from where this project is built and tested.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${KUBE_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-api-provider-vpsie/kube-assets}"
OUT="${CACHE_ROOT}/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# kwok's version is the one hack/e2e-tools/go.mod pins; the binary carries it in
# its name so that a new pin builds anew.
KWOK_VERSION="$(sed -n 's#^\tsigs.k8s.io/kwok \(v[^ ]*\).*#\1#p' "${HERE}/e2e-tools/go.mod")"
BINARIES=(kube-apiserver etcd kube-controller-manager kube-scheduler "kwok-${KWOK_VERSION}" "kwok-${KWOK_VERSION}-stages-node-fast-pod-general.yaml")
missing=()
for b in "${BINARIES[@]}"; do
  [[ -s "${OUT}/${b}" ]] || missing+=("${b}")
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
    kwok-*-stages-*.yaml)
      # kwok's stock stages: Nodes initialised at once then kept alive by
      # leases; pods started, made Ready, completed and deleted after delays
      # (1 to 6 s, or what the pod's kwok annotations say) as a kubelet would.
      stages="$(cd "${HERE}/e2e-tools" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
      for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
               pod/general/pod-create.yaml pod/general/pod-init-container-running.yaml \
               pod/general/pod-init-container-completed.yaml pod/general/pod-ready.yaml \
               pod/general/pod-complete.yaml pod/general/pod-delete.yaml; do
        echo "---"; cat "${stages}/${f}"
      done > "${OUT}/${b}.tmp" ;;
    kwok-*)
      echo "building kwok ${KWOK_VERSION} (cold: ~1 minute)" >&2
      (cd "${HERE}/e2e-tools" && go build -trimpath -ldflags "-s -w" -o "${OUT}/${b}.tmp" sigs.k8s.io/kwok/cmd/kwok) ;;
    *)
      echo "building ${b} ${KUBE_VERSION} (cold: kube-apiserver ~8 minutes on 2 cores, the others ~3 each)" >&2
      go build -trimpath -ldflags "${ldflags}" -o "${OUT}/${b}.tmp" "k8s.io/kubernetes/cmd/${b}" ;;
  esac
  # Rename last so an interrupted build never leaves a half-written binary that
  # the fast path above would trust.
  mv "${OUT}/${b}.tmp" "${OUT}/${b}"
done
echo "${OUT}"
