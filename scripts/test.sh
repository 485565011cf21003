#!/usr/bin/env bash
# The whole test suite. Installs the real parts the tests start (Debian's docker-registry, the
# CNCF distribution server; htpasswd from apache2-utils; openssl for the certificate script;
# chromium renders the HTML audit report) when they are missing, builds the Go test tools
# (scripts/tools.sh: kube-apiserver, etcd, kubectl, cosign, crane), validates the deployment
# manifests offline against the Kubernetes schemas, then runs `cargo test`. Extra arguments go to
# cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# kube-apiserver, etcd, kubectl, cosign and crane for the end-to-end tests, built from pinned Go
# module versions into .tools/ (kept between runs: only a missing version is built).
scripts/tools.sh

mkdir -p target
if ! scripts/validate-manifests.sh >target/validate-manifests.log 2>&1; then
  cat target/validate-manifests.log
  exit 1
fi
tail -n 3 target/validate-manifests.log

exec cargo test --locked "$@"
