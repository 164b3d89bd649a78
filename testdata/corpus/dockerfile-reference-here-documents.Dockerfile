# provenance: docker/docs content/reference/dockerfile.md, "Here-Documents" (RUN <<EOF, no set -e)
FROM debian:bookworm
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
