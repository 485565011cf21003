#!/usr/bin/env bash
# Make Signet's serving certificate with openssl: a private CA (ECDSA P-256) and a serving
# certificate it signs for the webhook Service, plus a kustomize overlay that puts the CA
# into the webhook configurations' caBundle, audit first (components/audit).
#
#   certs/generate-openssl.sh [OUT]      OUT defaults to certs/out
#
# Writes into OUT: ca.crt, ca.key, tls.crt, tls.key, caBundle.patch.yaml (a JSON 6902 patch
# of the webhooks) and, unless already there, kustomization.yaml (the base, components/audit
# and that patch; delete the audit line to enforce). Then:
#
#   kubectl create namespace signet-system
#   kubectl -n signet-system create secret tls signet-tls --cert OUT/tls.crt --key OUT/tls.key
#   kubectl apply -k OUT
#
# Running it again with the same OUT keeps the CA and issues a new serving certificate, so
# the caBundle does not change and renewal needs only the Secret to be replaced.
#
# Environment: SIGNET_SERVICE (signet), SIGNET_NAMESPACE (signet-system), CERT_DAYS (365),
# CA_DAYS (1825, used only when a new CA is made), SIGNET_BASE (the kustomization the
# overlay builds on; manifests/base).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/out}"
service="${SIGNET_SERVICE:-signet}"
namespace="${SIGNET_NAMESPACE:-signet-system}"
cert_days="${CERT_DAYS:-365}"
ca_days="${CA_DAYS:-1825}"
base="${SIGNET_BASE:-$here/../manifests/base}"

command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
[ -f "$base/kustomization.yaml" ] || { echo "no kustomization.yaml in $base" >&2; exit 1; }

mkdir -p "$out"
out="$(cd "$out" && pwd)"
base="$(cd "$base" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077

dns1="$service.$namespace.svc"
dns2="$service.$namespace.svc.cluster.local"
# A config of our own, so the result does not depend on the system's openssl.cnf.
cat >"$work/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = signet-ca
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$dns1, DNS:$dns2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

if [ -f "$out/ca.crt" ] && [ -f "$out/ca.key" ]; then
  echo "reusing the CA in $out"
  if ! openssl x509 -in "$out/ca.crt" -noout -checkend $((cert_days * 86400)) >/dev/null; then
    echo "the CA in $out expires within $cert_days days: move ca.crt and ca.key away to make a" >&2
    echo "new CA, and keep the old CA in caBundle until every replica serves the new certificate" >&2
    exit 1
  fi
else
  echo "making a new CA in $out"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/ca.key"
  openssl req -x509 -new -config "$work/openssl.cnf" -extensions ca -key "$out/ca.key" \
    -sha256 -days "$ca_days" -out "$out/ca.crt"
fi

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/tls.key"
openssl req -new -config "$work/openssl.cnf" -key "$work/tls.key" -subj "/CN=$dns1" -out "$work/tls.csr"
openssl x509 -req -in "$work/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$cert_days" \
  -extfile "$work/openssl.cnf" -extensions serving -out "$work/tls.crt" 2>/dev/null
openssl verify -CAfile "$out/ca.crt" "$work/tls.crt" >/dev/null
mv "$work/tls.key" "$out/tls.key"
mv "$work/tls.crt" "$out/tls.crt"
chmod 0644 "$out/ca.crt" "$out/tls.crt"

# Paths relative to OUT keep the overlay usable after the repository moves.
relative() {
  if realpath --relative-to=/ / >/dev/null 2>&1; then
    realpath --relative-to="$2" "$1"
  elif command -v python3 >/dev/null; then
    python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$1" "$2"
  else
    echo "$1"
  fi
}

umask 022
ca_bundle="$(openssl base64 -A -in "$out/ca.crt")"
cat >"$out/caBundle.patch.yaml" <<EOF
# Written by certs/generate-openssl.sh: the CA of Signet's serving certificate, for the
# validating webhook and (with components/mutate) the mutating one.
- op: add
  path: /webhooks/0/clientConfig/caBundle
  value: $ca_bundle
EOF
# kustomization.yaml is written once: a later run (renewal) keeps it, and with it the step to
# enforcing (the audit component's line deleted). Delete the file to have it written again.
if [ -f "$out/kustomization.yaml" ]; then
  echo "kept $out/kustomization.yaml (delete it to write a new one)"
else
  audit="$base/../components/audit"
  if [ -f "$audit/kustomization.yaml" ]; then
    components="components:
  # Audit first: Signet admits everything and reports what it would deny (warnings, Events).
  # To enforce, delete the next line and run kubectl apply -k again (docs/install.md).
  - $(relative "$(cd "$audit" && pwd)" "$out")"
  else
    components="# No components/audit next to $base: this install enforces at once."
  fi
  cat >"$out/kustomization.yaml" <<EOF
# Written by certs/generate-openssl.sh: Signet with this directory's CA in the webhooks.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(relative "$base" "$out")
$components
patches:
  - path: caBundle.patch.yaml
    target:
      group: admissionregistration.k8s.io
      version: v1
      kind: ValidatingWebhookConfiguration
      name: signet
  - path: caBundle.patch.yaml
    target:
      group: admissionregistration.k8s.io
      version: v1
      kind: MutatingWebhookConfiguration
      name: signet
EOF
fi

echo "serving certificate for $dns1, $dns2, valid $cert_days days:"
openssl x509 -in "$out/tls.crt" -noout -subject -enddate
cat <<EOF
next (first install):
  kubectl create namespace $namespace
  kubectl -n $namespace create secret tls signet-tls --cert $out/tls.crt --key $out/tls.key
  kubectl apply -k $out
renewal (same CA, so only the Secret changes; Signet reloads it):
  kubectl -n $namespace create secret tls signet-tls --cert $out/tls.crt --key $out/tls.key \\
    --dry-run=client -o yaml | kubectl apply --server-side --force-conflicts -f -
EOF
