# Minimal from docker-library/postgres 17/bookworm/Dockerfile: the PGDG list is added, then postgresql-common is installed.
FROM debian:bookworm-slim
RUN set -ex; \
	apt-get update; \
	apt-get install -y --no-install-recommends gnupg less; \
	rm -rf /var/lib/apt/lists/*
ENV PG_MAJOR 17
RUN set -ex; \
	dpkgArch="$(dpkg --print-architecture)"; \
	aptRepo="[ signed-by=/usr/local/share/keyrings/postgres.gpg.asc ] http://apt.postgresql.org/pub/repos/apt/ bookworm-pgdg main $PG_MAJOR"; \
	case "$dpkgArch" in \
		amd64 | arm64 | ppc64el | s390x) \
			echo "deb $aptRepo" > /etc/apt/sources.list.d/pgdg.list; \
			apt-get update; \
			;; \
	esac; \
	apt-get install -y --no-install-recommends postgresql-common; \
	rm -rf /var/lib/apt/lists/*
