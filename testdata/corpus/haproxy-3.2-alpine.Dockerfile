# provenance: docker-library/haproxy 3.2/alpine/Dockerfile at 04b2168ff76f90727c02f01cb719f655e768f6fd (comment inside a continued apk add, a virtual group ended by ";", $runDeps, apk del)
FROM alpine:3.22
RUN set -eux; \
	apk add --no-cache \
# @system-ca: https://github.com/docker-library/haproxy/pull/216
		ca-certificates \
	;
RUN set -eux; \
	\
	apk add --no-cache --virtual .build-deps \
		gcc \
		libc-dev \
		lua5.4-dev \
		make \
	; \
	\
	runDeps="$( \
		scanelf --needed --nobanner --format '%n#p' --recursive /usr/local \
			| tr ',' '\n' \
			| awk '{ print "so:" $1 }' \
	)"; \
	apk add --no-network --virtual .haproxy-rundeps $runDeps; \
	apk del --no-network .build-deps; \
	\
	haproxy -v
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
