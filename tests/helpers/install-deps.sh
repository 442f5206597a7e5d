#!/bin/sh
# Installs what a fresh Debian 12 lacks for building and testing ka-mariadb.
# Idempotent: does nothing when every package is already installed.
set -eu
# `install-deps.sh vagrant`: the Vagrant tier's host packages (make test-vagrant).
[ "${1:-}" = vagrant ] && exec sh "$(dirname "$0")/../../vagrant/tools/host-deps"
PKGS="build-essential pkg-config libmariadb-dev mariadb-server mariadb-client keepalived
bats bats-assert bats-support iproute2 nftables jq procps psmisc file man-db hyperfine
shellcheck ruby python3 socat clang libclang-rt-14-dev prometheus
debhelper fakeroot lintian mmdebstrap systemd"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages must not start their services (mariadb, keepalived) on this host.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created_policy=1
fi
apt-get install -y -qq --no-install-recommends $missing
[ "$created_policy" = 1 ] && rm -f "$policy"
exit 0
