#!/usr/bin/env bash
# Builds, once, the images the Dockerfile and docker-compose.yml name, from Debian's archive alone
# (no container registry): a minimal bookworm root by debootstrap, then stand-ins tagged
# python:3.11-slim-bookworm, postgres:15 and redis:7. Images that exist are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK=${IMAGE_WORK:-/var/tmp/citewise-image}

# Images are rebuilt when their recipes change: each carries the recipes' hash as a label.
RECIPE=$(cat "$here"/base_images.sh "$here"/*slim* "$here"/*.Containerfile "$here"/*-entrypoint.sh \
    | sha256sum | cut -c1-12)
exists() {
    [ "$(podman image inspect --format '{{index .Labels "org.citewise.recipe"}}' "$1" 2>/dev/null)" = "$RECIPE" ]
}

if ! exists localhost/citewise-debian:bookworm; then
    echo "==> debootstrap: a minimal Debian bookworm root from $MIRROR (about a minute)"
    rm -rf "$WORK/rootfs" && mkdir -p "$WORK"
    start=$SECONDS
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log"; exit 1; }
    # Slim like Debian's own container images: no apt caches or docs left in any layer.
    cp "$here/apt-slim.conf" "$WORK/rootfs/etc/apt/apt.conf.d/docker-clean"
    cp "$here/dpkg-slim.cfg" "$WORK/rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
    rm -rf "$WORK/rootfs/var/cache/apt/"*.bin "$WORK/rootfs/var/cache/apt/archives/"*.deb \
        "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/usr/share/man/"* "$WORK/rootfs/usr/share/info/"* \
        "$WORK/rootfs/usr/share/locale/"*
    find "$WORK/rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    tar -C "$WORK/rootfs" -c . | podman import --quiet --change 'CMD ["bash"]' \
        --change "LABEL org.citewise.recipe=$RECIPE" - localhost/citewise-debian:bookworm >/dev/null
    rm -rf "$WORK/rootfs"
    echo "    done in $((SECONDS - start)) s"
fi

build_standin() {  # name, Containerfile
    if ! exists "$1"; then
        echo "==> building the stand-in $1 from Debian's packages"
        podman build --network host --label org.citewise.stand-in=true --label "org.citewise.recipe=$RECIPE" \
            -t "$1" -f "$here/$2" "$here" >/dev/null
    fi
}
build_standin docker.io/library/python:3.11-slim-bookworm python.Containerfile
build_standin docker.io/library/postgres:15 postgres.Containerfile
build_standin docker.io/library/redis:7 redis.Containerfile
