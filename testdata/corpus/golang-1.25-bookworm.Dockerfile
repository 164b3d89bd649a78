# Minimal from docker-library/golang 1.25/bookworm/Dockerfile: binutils-gold is installed on arm64 only.
FROM debian:bookworm
RUN set -eux; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		gcc \
		make \
	; \
	dpkgArch="$(dpkg --print-architecture)"; \
	if [ "$dpkgArch" = 'arm64' ]; then \
		apt-get install -y --no-install-recommends binutils-gold; \
	fi; \
	rm -rf /var/lib/apt/lists/*
