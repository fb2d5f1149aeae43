#!/usr/bin/env bash
# Installs the Debian packages the lab needs (the tests and the demo run against a real DNS
# server, real PostgreSQL servers and firewall rules in a private network namespace), if any
# is missing. Needs root and apt-get; elsewhere it says what to install and fails.
set -euo pipefail

# bind9: the lab's DNS server; bind9-dnsutils: dig and nsupdate; nftables: black-holing pod
# addresses; iproute2 and util-linux: the private network namespace (ip, unshare);
# postgresql-15: the primary/replica proof; redis-server (Redis 7): the ioredis router's primary
# and replica; openssl: certificates for the HTTPS tests.
packages=(bind9 bind9-dnsutils nftables iproute2 util-linux postgresql-15 postgresql-client-15 redis-server openssl)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "headless-lb lab: missing Debian packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "headless-lb lab: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
