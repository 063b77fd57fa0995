# syntax=docker/dockerfile:1
# Dockerfile — one image with the three distcron binaries (distcron-api, distcron-manager,
# distcron-worker), used by docker-compose.yml. Built in rust:1-bookworm, run in
# debian:bookworm-slim (the same Debian as the local cluster's machines).

FROM rust:1-bookworm AS build
WORKDIR /src
# sqlx's query macros read the prepared queries in .sqlx/ instead of a database.
ENV SQLX_OFFLINE=true
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
    && mkdir -p /out \
    && cp target/release/distcron-api target/release/distcron-manager target/release/distcron-worker /out/

FROM debian:bookworm-slim
# curl: the healthchecks of docker-compose.yml, and its migrate service's creation of the
# bucket. ca-certificates: TLS to S3 or MySQL if asked. openssl: its secrets service makes
# HAProxy's self-signed certificate and SeaweedFS's gRPC CA and certificate.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl openssl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# Root: workers run jobs as other local users (a job's run_as), which takes root.
WORKDIR /var/lib/distcron
ENV RUST_LOG=info
CMD ["distcron-api"]
