# Minimal from docker-library/buildpack-deps debian/bookworm/Dockerfile: libxslt-dev is virtual (libxslt1-dev provides it).
FROM debian:bookworm
RUN set -ex; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		libxml2-dev \
		libxslt-dev \
		zlib1g-dev \
	; \
	rm -rf /var/lib/apt/lists/*
