# rce itself (not a sandbox image: those are images/<lang>/Dockerfile).
# Three stages: the Rust build, the web editor's build, and a slim Debian
# runtime holding only the `rce` binary, images/languages.toml and web/dist.
#
#   docker build -t rce:latest .
#
# The base images are build arguments so a site with a mirror (or none at
# all) can point them elsewhere; the defaults come from Docker Hub. rce
# needs Rust >= 1.88 (actix-web's MSRV) and Node >= 20.19 (Vite).
# No BuildKit-only syntax is used, so the legacy builder works too.
ARG RUST_IMAGE=rust:1-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: the rce binary -------------------------------------------------
FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Dependencies first, against stub sources, so editing rce's code does not
# rebuild every crate (this layer is reused until a manifest changes).
COPY Cargo.toml Cargo.lock ./
COPY protocol/Cargo.toml protocol/Cargo.toml
COPY runner/Cargo.toml runner/Cargo.toml
RUN mkdir -p src protocol/src runner/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && touch protocol/src/lib.rs && echo 'fn main() {}' > runner/src/main.rs \
 && cargo build --release --locked -p rce --bin rce \
 && rm -rf src protocol/src runner/src
COPY src src
COPY protocol/src protocol/src
COPY runner/src runner/src
# COPY keeps the sources' old mtimes; touch them so cargo does not take the
# stubs' fresher build for up to date.
RUN touch src/main.rs src/lib.rs protocol/src/lib.rs runner/src/main.rs \
 && cargo build --release --locked -p rce --bin rce \
 && install -m 0755 target/release/rce /usr/local/bin/rce

# ---- web: the browser editor (web/dist) ------------------------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# ---- runtime ---------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# An unprivileged user for the API. A worker talks to a Docker engine, which
# is root-equivalent whatever uid asks (see README "Deploying"); compose.yml
# and the Kubernetes manifests run workers with the engine socket's group.
# Fixed ids (10001), clear of the low system range where the engine socket's
# group usually is (999 on Debian), which workers are given with group_add.
RUN groupadd --system --gid 10001 rce \
 && useradd --system --uid 10001 --gid rce --home-dir /var/lib/rce --create-home rce
COPY --from=build /usr/local/bin/rce /usr/local/bin/rce
COPY images/languages.toml /opt/rce/images/languages.toml
COPY --from=web /web/dist /opt/rce/web/dist
WORKDIR /opt/rce
# Paths are relative to the working directory; binding to all interfaces is
# what a container needs (the image default of the binary is loopback).
# The image is production by default: an API process started without
# RCE_AUTH__JWT_SECRET (or with a short or published one) refuses to start
# and says so, instead of signing tokens with the public development
# secret. Run it with -e RCE_AUTH__JWT_SECRET="$(openssl rand -base64 48)",
# or -e RCE_ENV=development to try it out.
ENV RCE_ENV=production \
    RCE_HTTP__BIND=0.0.0.0:8080 \
    RCE_WORKER__HEALTH_BIND=0.0.0.0:8081 \
    RCE_SANDBOX__LANGUAGES_FILE=/opt/rce/images/languages.toml \
    RCE_STORE__SQLITE_PATH=/var/lib/rce/rce.db \
    RCE_LOG__FORMAT=json
USER rce
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/rce"]
CMD ["serve", "--role", "all"]
