# provenance: NVIDIA's CUDA install guide, network repository for debian12 (the steps joda01/imagec install_cuda.sh runs)
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates wget
RUN wget https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
    && dpkg -i cuda-keyring_1.1-1_all.deb \
    && rm cuda-keyring_1.1-1_all.deb
RUN apt-get update && apt-get install -y --no-install-recommends cuda-toolkit-12-6
