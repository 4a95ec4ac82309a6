#!/usr/bin/env bash
# Offline check of the Kubernetes manifests: render base and every overlay with kustomize
# (kubectl's built-in one), then validate every rendered object strictly (unknown fields are
# errors) against the OpenAPI schemas of pinned Kubernetes versions with `kubernetes-validate`.
# No cluster is contacted.
#
# Environment:
#   PYTHON        interpreter that has tests/k8s/requirements.txt installed (default python3)
#   KUBECTL       kubectl to render with (default .ci/node_modules/.bin/kubectl, see install.sh)
#   K8S_VERSIONS  Kubernetes versions to validate against (default "1.30.0 1.33.0": the oldest
#                 with the preStop sleep handler we use, and the version of the pinned kubectl)
#   RENDER_DIR    where to keep the rendered YAML (default: a temporary directory, removed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
KUBECTL="${KUBECTL:-$ROOT/.ci/node_modules/.bin/kubectl}"
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.33.0}"

if [[ ! -x "$KUBECTL" ]] && ! command -v "$KUBECTL" >/dev/null 2>&1; then
    echo "check.sh: no kubectl at $KUBECTL; run: bash tests/k8s/install.sh" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import kubernetes_validate' 2>/dev/null; then
    echo "check.sh: $PYTHON lacks kubernetes-validate; pip install -r tests/k8s/requirements.txt" >&2
    exit 1
fi

if [[ -n "${RENDER_DIR:-}" ]]; then
    out="$RENDER_DIR"
    mkdir -p "$out"
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

# base is rendered too: it must be valid on its own even though only overlays are deployed.
targets=(base)
for dir in "$ROOT"/k8s/overlays/*/; do
    targets+=("overlays/$(basename "$dir")")
done

failed=0
for target in "${targets[@]}"; do
    name="${target//\//-}"
    rendered="$out/$name.yaml"
    if ! "$KUBECTL" kustomize "$ROOT/k8s/$target" >"$rendered"; then
        echo "FAIL $target: kustomize could not render it" >&2
        failed=1
        continue
    fi
    count="$(grep -c '^kind:' "$rendered" || true)"
    if [[ "$count" -eq 0 ]]; then
        echo "FAIL $target: rendered no objects" >&2
        failed=1
        continue
    fi
    for version in $K8S_VERSIONS; do
        # --quiet prints only problems: ERROR (schema violation), WARN (no schema for a kind,
        # which kubernetes-validate does not count as a failure; we do), FATAL.
        report="$("$PYTHON" -m kubernetes_validate --strict --quiet -k "$version" "$rendered" 2>&1)" \
            && rc=0 || rc=$?
        if [[ $rc -ne 0 || -n "$report" ]]; then
            echo "FAIL $target against Kubernetes $version:" >&2
            printf '%s\n' "$report" >&2
            failed=1
        else
            echo "ok   $target: $count objects valid against Kubernetes $version (strict)"
        fi
    done
done

if [[ $failed -ne 0 ]]; then
    echo "check.sh: manifest check FAILED" >&2
    exit 1
fi
echo "check.sh: all manifests render and validate"
