# provenance: docker-library/mariadb 10.6/Dockerfile at 3afe9953898422c1ca6b3986dd6fa255ad10eb70 (an if around an install, a grouped echo piped to debconf-set-selections, comments between continued words, xargs pipes, a last `if ...; else ...; fi` split over lines)
FROM ubuntu:focal
RUN set -ex; \
	apt-get update; \
	if ! which gpg; then \
		apt-get install -y --no-install-recommends gnupg; \
	fi; \
	if ! gpg --version | grep -q '^gpg (GnuPG) 1\.'; then \
		apt-get install -y --no-install-recommends dirmngr; \
	fi; \
	rm -rf /var/lib/apt/lists/*
RUN set -ex; \
	{ \
		echo "mariadb-server-10.6" mysql-server/root_password password 'unused'; \
	} | debconf-set-selections; \
	apt-get update; \
	apt-get install -y \
		"mariadb-server=1:10.6.20+maria~ubu2004" \
# mariadb-backup is installed at the same time so that `mysql-common` is only installed once
		mariadb-backup \
		socat \
	; \
	rm -rf /var/lib/apt/lists/*; \
# comment out a few problematic configuration values
	find /etc/mysql/ -name '*.cnf' -print0 \
		| xargs -0 grep -lZE '^(bind-address|log|user\s)' \
		| xargs -rt -0 sed -Ei 's/^(bind-address|log|user\s)/#&/'; \
	if [ ! -L /etc/mysql/my.cnf ]; then sed -i -e '/includedir/i[mariadb]\nskip-host-cache\n' /etc/mysql/my.cnf; \
# 10.5+
	else sed -i -e '/includedir/ {N;s/\(.*\)\n\(.*\)/[mariadbd]\n\n\2\n\1/}' \
                /etc/mysql/mariadb.cnf; fi
