# provenance: getsentry/self-hosted sentry/Dockerfile (the image comes from a build arg only)
ARG SENTRY_IMAGE
FROM ${SENTRY_IMAGE}
COPY . /usr/src/sentry
RUN if [ -s /usr/src/sentry/requirements.txt ]; then pip install -r /usr/src/sentry/requirements.txt; fi
