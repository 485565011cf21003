#!/usr/bin/env bash
# The real third-party programs the end-to-end tests run, built from pinned Go module versions and
# kept under .tools/<name>-<version>/ (ignored by git). A tool already built at its pinned version is
# not built again. Go is used for these test tools only; Signet stays one Rust binary.
#
#   kube-apiserver, kubectl, etcd   tools/kube (k8s.io/kubernetes and etcd's server as dependencies)
#   cosign                          github.com/sigstore/cosign/v2/cmd/cosign
#   crane                           github.com/google/go-containerregistry/cmd/crane
#   cosign3                         github.com/sigstore/cosign/v3/cmd/cosign (a 3.0.x built with
#                                   go-containerregistry < 0.21.6: its own referrers fallback index)
#   ggcr-registry                   tools/registry/ggcr: go-containerregistry's pkg/registry
#                                   (crane's version), `-referrers` for the OCI 1.1 referrers API
#   distribution                    github.com/distribution/distribution/v3/cmd/registry
#   helm                            helm.sh/helm/v4/cmd/helm (charts/signet's lint, template and
#                                   install tests)
#   notation                        tools/notation: github.com/notaryproject/notation/cmd/notation
#                                   (Notary Project signatures, JWS and COSE; tests/it/notation.rs)
#
# Prints nothing but progress on stderr; the tests find the programs under .tools/ (or under
# $SIGNET_TOOLS when set).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
tools="${SIGNET_TOOLS:-$root/.tools}"

KUBERNETES_VERSION=v1.36.3
COSIGN_VERSION=v2.6.5
CRANE_VERSION=v0.22.1
# v3.0.5 requires go-containerregistry v0.20.7 (see its go.mod): before 0.21.6, so the referrers
# fallback index it writes types its entries `application/vnd.oci.empty.v1+json`.
COSIGN3_VERSION=v3.0.5
# The registry of tools/registry/go.mod: the go-containerregistry of crane.
GGCR_REGISTRY_VERSION=$CRANE_VERSION
DISTRIBUTION_VERSION=v3.0.0
HELM_VERSION=v4.3.2
# The newest v1 the Go module proxy serves (tools/notation/go.mod requires the same).
NOTATION_VERSION=v1.3.2

command -v go >/dev/null 2>&1 || { echo "tools.sh: Go is needed to build the test tools" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0

# build NAME VERSION -- command...: runs the command with $out set, unless $out/.done exists.
build() {
    local name="$1" version="$2"
    shift 3
    out="$tools/$name-$version"
    [ -f "$out/.done" ] && return 0
    echo "tools.sh: building $name $version" >&2
    rm -rf "$out" && mkdir -p "$out"
    local started=$SECONDS
    "$@"
    touch "$out/.done"
    echo "tools.sh: $name $version built in $((SECONDS - started)) s" >&2
}

kube() {
    local minor="${KUBERNETES_VERSION#v}"
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=${minor%%.*}"
    minor="${minor#*.}"
    ldflags+=" -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
    (cd tools/kube && go build -ldflags "$ldflags" -o "$out/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./etcd)
}

install() {
    GOBIN="$out" go install -ldflags "-s -w" "$1"
}

# cosign v3 installed under the name cosign3, next to (not instead of) cosign v2.
cosign3() {
    install "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN3_VERSION"
    mv "$out/cosign" "$out/cosign3"
}

ggcr_registry() {
    (cd tools/registry && go build -ldflags "-s -w" -o "$out/ggcr-registry" ./ggcr)
}

distribution() {
    install "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION"
    mv "$out/registry" "$out/distribution"
}

helm() {
    install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}

# Built inside tools/notation (go.mod pins it): the proxy serves the version but not the
# module's version list, which `go install pkg@version` asks for.
notation() {
    (cd tools/notation && go build -ldflags "-s -w" -o "$out/notation" \
        github.com/notaryproject/notation/cmd/notation)
}

build kube "$KUBERNETES_VERSION" -- kube
build cosign "$COSIGN_VERSION" -- install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
build crane "$CRANE_VERSION" -- install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
build cosign3 "$COSIGN3_VERSION" -- cosign3
build ggcr-registry "$GGCR_REGISTRY_VERSION" -- ggcr_registry
build distribution "$DISTRIBUTION_VERSION" -- distribution
build helm "$HELM_VERSION" -- helm
build notation "$NOTATION_VERSION" -- notation
