# syntax=docker/dockerfile:1
#
# The one `bordermesh` binary in a minimal, non-root image.
#
#   docker build -t bordermesh:dev .
#   docker run --rm -p 50051:50051 bordermesh:dev                 # serve gateway (the default CMD)
#   docker run --rm -p 50052:50052 bordermesh:dev serve identity
#
# Build context: see .dockerignore (target/, data/, .git and the CI tool folders stay out).

# ---- builder -------------------------------------------------------------------------------
# Pinned toolchain; Debian bookworm so the binary's glibc matches the runtime image below.
FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts (BuildKit) keep the crate registry and target/ between builds; the binary is
# copied out in the same step because a cache mount is not part of the image.
# libsqlite3-sys builds its bundled SQLite with the image's gcc; protos compile with protox
# (no protoc), and there is no OpenSSL to link.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p bordermesh-gateway \
 && install -D -m 0755 target/release/bordermesh /out/bordermesh \
 && install -d -m 0750 /out/data

# ---- runtime -------------------------------------------------------------------------------
# distroless/cc: glibc and libgcc only, no shell, no package manager. ":nonroot" is uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/bordermesh /usr/local/bin/bordermesh
# The only place the program writes (SQLite files). On Kubernetes an emptyDir or a PVC is
# mounted here and the root filesystem is read-only.
COPY --from=builder --chown=65532:65532 /out/data /var/lib/bordermesh
# Container defaults: listen on all interfaces, keep data in the volume above. Environment
# variables beat the TOML file (BORDERMESH_CONFIG), so the k8s manifests set the same values.
ENV BORDERMESH_DATA_DIR=/var/lib/bordermesh \
    BORDERMESH_GATEWAY__LISTEN=0.0.0.0:50051 \
    BORDERMESH_IDENTITY__LISTEN=0.0.0.0:50052 \
    BORDERMESH_CUSTOMS__LISTEN=0.0.0.0:50053 \
    BORDERMESH_SANITARY__LISTEN=0.0.0.0:50054
WORKDIR /var/lib/bordermesh
USER 65532:65532
EXPOSE 50051 50052 50053 50054
ENTRYPOINT ["bordermesh"]
CMD ["serve", "gateway"]
