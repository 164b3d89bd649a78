# provenance: docker-library/redis 7.4/alpine/Dockerfile (apk: no dated mirror, left alone)
FROM alpine:3.22
RUN set -eux; \
	apk add --no-cache \
		tzdata \
		su-exec \
	;
CMD ["redis-server"]
