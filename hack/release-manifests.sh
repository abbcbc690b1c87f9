#!/usr/bin/env bash
# Writes the clusterctl release artifacts of the provider:
#   $OUT_DIR/infrastructure-components.yaml   kustomize build config/default, the image as ${CAPVPSIE_IMAGE:=...}
#   $OUT_DIR/metadata.yaml                    release series -> contract
#   $OUT_DIR/cluster-template*.yaml, clusterclass-*.yaml, addons/   the flavors (templates/)
#   $OUT_DIR/repo/infrastructure-vpsie/$RELEASE_VERSION/...         a clusterctl local repository
#   $OUT_DIR/clusterctl.yaml                  a clusterctl config pointing at that repository
# Usage: OUT_DIR=out RELEASE_VERSION=v0.1.0 IMAGE=ghcr.io/vpsieinc/cluster-api-provider-vpsie hack/release-manifests.sh
set -o errexit -o nounset -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
OUT_DIR="${OUT_DIR:-out}"
RELEASE_VERSION="${RELEASE_VERSION:-v0.1.0}"
IMAGE="${IMAGE:-ghcr.io/vpsieinc/cluster-api-provider-vpsie}"

mkdir -p "$OUT_DIR"
out="$(cd "$OUT_DIR" && pwd)"
rm -rf "$out/repo" "$out"/cluster-template*.yaml "$out"/clusterclass-*.yaml "$out/addons"

components="$out/infrastructure-components.yaml"
go tool -modfile=hack/tools/go.mod kustomize build config/default |
	sed "s|image: controller:latest|image: \${CAPVPSIE_IMAGE:=${IMAGE}:${RELEASE_VERSION}}|" >"$components"
grep -q 'image: ${CAPVPSIE_IMAGE:=' "$components" || { echo "release-manifests: manager image not substituted" >&2; exit 1; }

cp metadata.yaml "$out/metadata.yaml"
cp templates/cluster-template*.yaml templates/clusterclass-*.yaml "$out/"
cp -R templates/addons "$out/addons"

repo="$out/repo/infrastructure-vpsie/$RELEASE_VERSION"
mkdir -p "$repo"
cp "$components" "$out/metadata.yaml" "$out"/cluster-template*.yaml "$out"/clusterclass-*.yaml "$repo/"

cat >"$out/clusterctl.yaml" <<YAML
# clusterctl configuration for this checkout's provider: pass it with --config, or merge the
# providers entry into ~/.config/cluster-api/clusterctl.yaml.
providers:
- name: vpsie
  type: InfrastructureProvider
  url: file://$repo/infrastructure-components.yaml
YAML
echo "release-manifests: wrote $out (clusterctl repository $repo)"
