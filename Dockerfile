# syntax=docker/dockerfile:1
#
#   docker build -t ghcr.io/signet-dev/signet:v0.1.0 \
#     --build-arg VERSION=v0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Base images are pinned by tag here. For releases pin them by digest as well
# (rust:1.95-bookworm@sha256:..., gcr.io/distroless/cc-debian12:nonroot@sha256:...), so a
# rebuild cannot pick up a different image under the same tag.

FROM rust:1.95-bookworm AS builder
# cmake for aws-lc-sys (rustls' crypto provider), in case its build needs it. The Debian
# release is pinned by the image tag, so package versions are not pinned separately.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, against placeholder sources: this layer is reused until Cargo.toml
# or Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

COPY src ./src
COPY examples ./examples
# COPY keeps the files' own modification times, which can be older than the placeholder
# build; touching them makes cargo rebuild Signet itself.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/signet /signet

# glibc and libgcc only, no shell, no package manager; runs as 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="signet" \
      org.opencontainers.image.description="Kubernetes validating admission webhook that admits only signed container images" \
      org.opencontainers.image.source="https://github.com/signet-dev/signet" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /signet /signet
# As the base sets them; stated here because scripts/image.sh builds the same layout without
# Docker (tests/it/image_build.rs compares the two).
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /home/nonroot
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/signet"]
CMD ["serve"]
