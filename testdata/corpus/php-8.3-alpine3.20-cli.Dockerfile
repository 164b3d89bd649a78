# provenance: docker-library/php 8.3/alpine3.20/cli/Dockerfile at 0ac0413de15ea852ec00e1f4765c6b0ce0666ee3 (apk add on its own, a fetch-deps group, $PHPIZE_DEPS among the build-deps, apk add $runDeps)
FROM alpine:3.20
ENV PHPIZE_DEPS \
		autoconf \
		make
RUN apk add --no-cache \
		ca-certificates \
		curl \
		xz
RUN set -eux; \
	\
	apk add --no-cache --virtual .fetch-deps gnupg; \
	\
	gpg --version; \
	\
	apk del --no-network .fetch-deps
RUN set -eux; \
	apk add --no-cache --virtual .build-deps \
		$PHPIZE_DEPS \
		argon2-dev \
		curl-dev \
	; \
	runDeps="$(scanelf --needed --nobanner --recursive /usr/local | awk '{ print "so:" $1 }')"; \
	apk add --no-cache $runDeps; \
	\
	apk del --no-network .build-deps; \
	php --version
CMD ["php", "-a"]
