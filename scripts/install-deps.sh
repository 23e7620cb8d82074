#!/bin/sh
# Installs the Debian packages sluice needs to build and test, and nothing
# that is already there. Idempotent: a second run does no apt work at all.
set -eu

PKGS="make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
libnng-dev libmsgpack-dev libsqlite3-dev sqlite3 libsystemd-dev libseccomp-dev
libcap-ng-dev libclang-rt-14-dev nginx wrk curl python3 iproute2 procps systemd
libmicrohttpd-dev libcurl4-openssl-dev prometheus nodejs libc-ares-dev dnsmasq-base
openssl"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# Debian's nodejs comes without npm (a package of its own); NodeSource's
# nodejs bundles it and conflicts with Debian's npm: ask only when missing.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start services (nginx) on a machine without systemd.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
