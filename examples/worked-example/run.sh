#!/usr/bin/env bash
# The README's worked example from a fresh shell: Debian's docker-registry on 127.0.0.1:PORT
# (43899 unless PORT is set), team/web:1.4 and team/api:2.0 pushed with crane (fixed contents and
# timestamps, so their digests are the README's), two cosign key pairs, team/api:2.0 signed with
# the wrong one, and `signet review` of deploy.yaml under policy.yaml. Prints what the review
# prints and exits with its code (1: something would be denied).
#
# Needs docker-registry (apt-get install docker-registry), crane and cosign (scripts/tools.sh
# builds both into .tools/), and signet (on PATH, or $SIGNET).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="${PORT:-43899}"
registry="127.0.0.1:$port"
tools="${SIGNET_TOOLS:-$repo/.tools}"
crane="$(ls "$tools"/crane-v*/crane)"
cosign="$(ls "$tools"/cosign-v*/cosign)"
signet="${SIGNET:-signet}"

work="$(mktemp -d)"
registry_pid=""
cleanup() {
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: $registry
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/registry.log" && break
    sleep 0.1
done

# push NAME:TAG TEXT: a one-file image whose bytes (and so digest) depend only on TEXT.
push() {
    local dir="$work/layer-${1//[:\/]/-}"
    mkdir -p "$dir/root"
    printf '%s\n' "$2" >"$dir/root/content.txt"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        -cf "$dir/layer.tar" -C "$dir/root" content.txt
    "$crane" append --insecure -f "$dir/layer.tar" -t "$registry/$1" >/dev/null 2>&1
}
push team/web:1.4 "web 1.4"
push team/api:2.0 "api 2.0"

(cd "$work" && COSIGN_PASSWORD= "$cosign" generate-key-pair --output-key-prefix release \
    && COSIGN_PASSWORD= "$cosign" generate-key-pair --output-key-prefix other) >/dev/null 2>&1
api="$registry/team/api@$("$crane" digest --insecure "$registry/team/api:2.0")"
COSIGN_PASSWORD= "$cosign" sign --yes --tlog-upload=false --key "$work/other.key" "$api" \
    >/dev/null 2>&1

sed "s|REGISTRY|$registry|g" "$here/policy.yaml" >"$work/policy.yaml"
sed 's/^/        /' "$work/release.pub" >>"$work/policy.yaml"
sed "s|REGISTRY|$registry|g" "$here/deploy.yaml" >"$work/deploy.yaml"

cd "$work"
"$signet" review --policy policy.yaml --insecure-registry "$registry" deploy.yaml
