# provenance: docker-library/python 3.13/alpine3.22/Dockerfile at 0355dd703d2bc0b6f9b0ccab9e5b4760f1ae9637 (runtime deps ended by ";", a build-deps group with a blank continued line, xargs apk add --virtual)
FROM alpine:3.22
ENV PATH /usr/local/bin:$PATH
RUN set -eux; \
	apk add --no-cache \
		ca-certificates \
		tzdata \
	;
RUN set -eux; \
	\
	apk add --no-cache --virtual .build-deps \
		gnupg \
		tar \
		\
		bzip2-dev \
		dpkg-dev dpkg \
		zlib-dev \
	; \
	find /usr/local -type f -executable -exec scanelf --needed --nobanner --format '%n#p' '{}' ';' \
		| tr ',' '\n' \
		| sort -u \
		| xargs -rt apk add --no-network --virtual .python-rundeps \
	; \
	apk del --no-network .build-deps; \
	python3 --version
CMD ["python3"]
