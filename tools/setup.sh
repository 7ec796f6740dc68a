#!/usr/bin/env bash
# rtrelay host set-up: Debian 12 packages, hugepages, hugetlbfs, bpffs.
# Idempotent: a second run on a prepared host takes about a second.
set -euo pipefail

PKGS="build-essential pkg-config dpdk dpdk-dev libdpdk-dev libipsec-mb-dev libssl-dev \
libbpf-dev libxdp-dev bpftool clang llvm libclang-rt-14-dev libcmocka-dev libpcap-dev zlib1g-dev \
libsqlite3-dev libjansson-dev libmicrohttpd-dev python3-scapy python3-pytest python3-cryptography tshark \
iproute2 iputils-ping ethtool tcpdump procps psmisc gnuplot-nox"

NR_HUGEPAGES=${RTR_NR_HUGEPAGES:-1024}

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (installs packages, reserves hugepages)" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi

cur=$(cat /proc/sys/vm/nr_hugepages)
if [ "$cur" -lt "$NR_HUGEPAGES" ]; then
	sysctl -q -w vm.nr_hugepages="$NR_HUGEPAGES"
fi
if ! mountpoint -q /dev/hugepages; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs -o mode=0700 nodev /dev/hugepages
fi
chmod 0700 /dev/hugepages
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
echo "setup.sh: ready (hugepages free: $free of $(cat /proc/sys/vm/nr_hugepages))"
