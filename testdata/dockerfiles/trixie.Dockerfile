FROM debian:trixie
RUN apt-get update && apt-get install -y --no-install-recommends git
