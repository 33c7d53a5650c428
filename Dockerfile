# Sluice container image: a Debian bookworm build stage and a bookworm-slim runtime stage that
# holds only build/sluice and the shared libraries it links (nothing to compile, no shell tools
# beyond what Debian's slim base has). Runs as the non-root user sluice (uid 1001, like the
# Bitnami images, so existing PVCs and fsGroup settings keep working).
#
#   podman build -t sluice:dev .            (or docker build; scripts/build-image does it offline)
#   podman run --rm -p 9092:9092 -p 9644:9644 sluice:dev
#
# The bases are build arguments so that a machine without a registry can use a local Debian
# image made with mmdebstrap (scripts/build-image does exactly that).
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm
ARG DEBIAN_SLIM_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
# The daemon's build dependencies, the same Debian packages scripts/install-deps installs
# (without the test clients). libmicrohttpd serves /metrics, /healthz and /readyz.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config python3 \
        libuv1-dev liburing-dev libyaml-dev libssl-dev libzstd-dev zlib1g-dev liblz4-dev \
        libsnappy-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DSL_TESTS=OFF -DSL_BENCH=OFF >/dev/null \
 && cmake --build build/release -j "$(nproc)" \
 && install -D -m 0755 -s build/release/sluice /out/usr/local/bin/sluice
# The runtime stage installs exactly the Debian packages that own the libraries the binary
# links, so this list follows the code instead of being kept by hand.
RUN ldd /out/usr/local/bin/sluice | awk '/=> \// {print $3}' \
      | xargs -r -n1 readlink -f | xargs -r dpkg -S 2>/dev/null | cut -d: -f1 | sort -u \
      | grep -v -x -e libc6 -e libgcc-s1 > /out/runtime-packages.txt \
 && cat /out/runtime-packages.txt

FROM ${DEBIAN_SLIM_IMAGE}
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(cat /tmp/runtime-packages.txt) \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --gid 1001 sluice \
 && useradd --uid 1001 --gid 1001 --home-dir /var/lib/sluice --no-create-home \
        --shell /usr/sbin/nologin sluice \
 && install -d -o 1001 -g 1001 -m 0750 /var/lib/sluice /var/lib/sluice/data \
 && install -d -m 0755 /etc/sluice
COPY --from=build /out/usr/local/bin/sluice /usr/local/bin/sluice
# A configuration that runs as it is (the Helm chart mounts its own over it from a ConfigMap).
COPY deploy/image/sluice.yaml /etc/sluice/sluice.yaml
ENV SLUICE_ADVERTISED_HOST=localhost
USER 1001:1001
WORKDIR /var/lib/sluice
VOLUME ["/var/lib/sluice/data"]
# 9092: Kafka clients; 9644: HTTP (/metrics, /healthz, /readyz).
EXPOSE 9092 9644
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["serve", "--config", "/etc/sluice/sluice.yaml"]
