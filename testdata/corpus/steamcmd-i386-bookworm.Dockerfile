# provenance: Valve's SteamCMD install steps for Debian (developer.valvesoftware.com/wiki/SteamCMD): steamcmd is built for i386 alone
FROM debian:bookworm-slim
RUN dpkg --add-architecture i386 \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates steamcmd \
    && rm -rf /var/lib/apt/lists/*
