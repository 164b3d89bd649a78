# provenance: a pattern of many public Dockerfiles, no single upstream file (exec-form apt-get)
FROM debian:bookworm
RUN ["apt-get", "update", "-y"]
RUN ["apt-get", "install", "nginx", "-y"]
CMD ["bash"]
