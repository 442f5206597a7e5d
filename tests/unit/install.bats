#!/usr/bin/env bats
# make install: the binaries, and the directories keepalived needs when it starts (the
# notify FIFO's under /run, the fault file's under /var/lib) with a tmpfiles.d entry that
# recreates them at every boot. Installs into a scratch root (PREFIX, RUNDIR and STATEDIR
# pointed into a temp dir), never into the real one; needs root (install -o root).
# make install builds first what is missing in $KA_BIN, as it does on a node.

load '../helpers/common'

setup() {
	[ "$(id -u)" = 0 ] || skip "make install needs root (install -o root)"
	[ -x "$KA_BIN/ka-check-mariadb" ] || skip "no build in $KA_BIN"
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$ROOT"
}

install_into() {
	make --no-print-directory -C "$KA_REPO" install BUILD="$KA_BIN" SANITIZE="${SANITIZE:-}" "$@"
}

@test "make install creates the runtime and state directories root-owned 0700" {
	run install_into PREFIX="$ROOT/usr/local" RUNDIR="$ROOT/run/ka-mariadb" \
		STATEDIR="$ROOT/var/lib/ka-mariadb"
	assert_success
	[ "$(stat -c '%U %a' "$ROOT/run/ka-mariadb")" = "root 700" ]
	[ "$(stat -c '%U %a' "$ROOT/var/lib/ka-mariadb")" = "root 700" ]
	[ -x "$ROOT/usr/local/libexec/ka-mariadb/ka-notify-mariadb" ]
}

@test "make install writes a tmpfiles.d entry that recreates both directories after a reboot" {
	run install_into PREFIX="$ROOT/usr/local" RUNDIR="$ROOT/run/ka-mariadb" \
		STATEDIR="$ROOT/var/lib/ka-mariadb"
	assert_success
	local conf=$ROOT/usr/local/lib/tmpfiles.d/ka-mariadb.conf
	grep -qx "d $ROOT/run/ka-mariadb 0700 root root -" "$conf"
	grep -qx "d $ROOT/var/lib/ka-mariadb 0700 root root -" "$conf"
	command -v systemd-tmpfiles >/dev/null || skip "systemd-tmpfiles is not installed"
	rm -rf "$ROOT/run/ka-mariadb"   # /run is tmpfs: gone after a reboot
	run systemd-tmpfiles --create "$conf"
	assert_success
	[ "$(stat -c '%U %a' "$ROOT/run/ka-mariadb")" = "root 700" ]
}

@test "a staged install (DESTDIR) names the default directories and leaves /run to tmpfiles.d" {
	run install_into DESTDIR="$ROOT" PREFIX=/usr/local
	assert_success
	grep -qx 'd /run/ka-mariadb 0700 root root -' "$ROOT/usr/local/lib/tmpfiles.d/ka-mariadb.conf"
	grep -qx 'd /var/lib/ka-mariadb 0700 root root -' "$ROOT/usr/local/lib/tmpfiles.d/ka-mariadb.conf"
	[ -d "$ROOT/var/lib/ka-mariadb" ]
	[ ! -e "$ROOT/run" ]
}
