#!/usr/bin/env bash
# Signet's container image without Docker: the built binary, the shared libraries it loads, CA
# certificates and a passwd/group naming the non-root user, assembled with crane onto an empty
# base and pushed; then, with --cosign-key, signed with cosign. The image has the Dockerfile's
# layout (user, entrypoint, command, exposed ports, working directory, labels);
# tests/it/image_build.rs builds one, checks it against the Dockerfile and has Signet admit it.
#
#   scripts/image.sh --tag registry.example.com/signet:v0.1.0 [options]
#
#   --tag REF          where to push (required)
#   --binary PATH      the signet binary (default: target/release/signet, built with
#                      `cargo build --release --locked` when missing)
#   --version V        org.opencontainers.image.version label (default: dev)
#   --revision R       org.opencontainers.image.revision label (default: git rev-parse HEAD)
#   --insecure         the registry speaks plain HTTP (a local test registry)
#   --cosign-key FILE  sign the pushed digest with `cosign sign --key FILE` (COSIGN_PASSWORD
#                      from the environment); add --no-tlog for offline/private use
#   --no-tlog          with --cosign-key: --tlog-upload=false (no Rekor entry)
#   --crane PATH, --cosign PATH   the programs (default: .tools/<name>-*/<name>, else PATH)
#
# Prints the pushed digest reference (REPO@sha256:...) on stdout; progress goes to stderr.
# Needs: crane, ldd, tar (GNU), coreutils; cosign for --cosign-key. No daemon, no root.
set -euo pipefail
cd "$(dirname "$0")/.."

# The runtime user of the Dockerfile's base (distroless :nonroot): uid and gid 65532.
RUN_UID=65532
RUN_USER=nonroot
HOME_DIR=/home/nonroot

tag="" binary="" version="dev" revision="" insecure=() cosign_key="" tlog=()
crane="" cosign=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --revision) revision="$2"; shift 2 ;;
    --insecure) insecure=(--insecure); shift ;;
    --cosign-key) cosign_key="$2"; shift 2 ;;
    --no-tlog) tlog=(--tlog-upload=false); shift ;;
    --crane) crane="$2"; shift 2 ;;
    --cosign) cosign="$2"; shift 2 ;;
    *) echo "image.sh: unknown option $1 (see the comment at the top of scripts/image.sh)" >&2; exit 2 ;;
  esac
done
[ -n "$tag" ] || { echo "image.sh: --tag REF is required (where to push the image)" >&2; exit 2; }

# find_tool NAME: .tools/NAME-v*/NAME as scripts/tools.sh builds it, else NAME on PATH.
find_tool() {
  local found
  found="$(ls -d "${SIGNET_TOOLS:-.tools}/$1"-v*/"$1" 2>/dev/null | head -n 1 || true)"
  if [ -n "$found" ]; then echo "$found"; else command -v "$1" || { echo "image.sh: $1 not found: run scripts/tools.sh or install it" >&2; exit 1; }; fi
}
crane="${crane:-$(find_tool crane)}"

if [ -z "$binary" ]; then
  binary=target/release/signet
  [ -x "$binary" ] || cargo build --release --locked >&2
fi
[ -x "$binary" ] || { echo "image.sh: $binary is not an executable" >&2; exit 1; }
if [ -z "$revision" ]; then revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root$HOME_DIR"
chmod 1777 "$root/tmp"

install -m 0755 "$binary" "$root/signet"
# The shared libraries the binary loads, at the paths the dynamic loader looks for them
# (content copied, symlinks resolved). A static binary lists none.
{ ldd "$binary" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:%s:%s:%s:%s:/sbin/nologin\n' \
  "$RUN_USER" "$RUN_UID" "$RUN_UID" "$RUN_USER" "$HOME_DIR" > "$root/etc/passwd"
printf 'root:x:0:\n%s:x:%s:\n' "$RUN_USER" "$RUN_UID" > "$root/etc/group"

# Two reproducible layers: everything owned by root, and the user's home owned by the user.
epoch="${SOURCE_DATE_EPOCH:-0}"
tar_layer() {
  local out="$1" owner="$2"; shift 2
  tar --sort=name --mtime="@$epoch" --owner="$owner" --group="$owner" --numeric-owner \
    --format=gnu -C "$root" -cf "$out" "$@"
}
tar_layer "$work/system.tar" 0 --exclude="./${HOME_DIR#/}" .
tar_layer "$work/home.tar" "$RUN_UID" "./${HOME_DIR#/}"

platform="linux/$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
echo "image.sh: pushing $tag ($platform)" >&2
"$crane" append "${insecure[@]}" --oci-empty-base -f "$work/system.tar" -f "$work/home.tar" -t "$tag" >&2
# The Dockerfile's runtime configuration (tests/it/image_build.rs compares the two).
"$crane" mutate "${insecure[@]}" "$tag" -t "$tag" \
  --set-platform "$platform" \
  --entrypoint /signet --cmd serve \
  --user "$RUN_UID:$RUN_UID" --workdir "$HOME_DIR" \
  --exposed-ports 8443/tcp,9090/tcp \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --label org.opencontainers.image.title=signet \
  --label "org.opencontainers.image.description=Kubernetes validating admission webhook that admits only signed container images" \
  --label org.opencontainers.image.source=https://github.com/signet-dev/signet \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" >&2
digest="$("$crane" digest "${insecure[@]}" "$tag")"
last="${tag##*/}"
case "$last" in *:*) repository="${tag%:*}" ;; *) repository="$tag" ;; esac
reference="$repository@$digest"

if [ -n "$cosign_key" ]; then
  cosign="${cosign:-$(find_tool cosign)}"
  echo "image.sh: signing $reference" >&2
  "$cosign" sign --yes --key "$cosign_key" "${tlog[@]}" \
    $( [ ${#insecure[@]} -gt 0 ] && echo --allow-insecure-registry --allow-http-registry ) \
    "$reference" >&2
fi
echo "$reference"
