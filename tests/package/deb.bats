#!/usr/bin/env bats
# The Debian package (issue 14): `make deb`, lintian, then the .deb installed with apt into
# a clean Debian 12 root built by mmdebstrap from the machine's configured Debian mirror
# (minbase + keepalived + systemd, the package's dependency and what systemd-analyze
# needs). The root is cached as a tarball in build/pkg-cache/ (about 80 s cold, 3 s to
# unpack warm) and unpacked afresh into build/pkg-test/root each run. The tests run in
# order against that one root: install, --version, render + keepalived -t, systemd-analyze,
# purge. Commands in the root run in a private mount namespace (unshare), so the /proc
# mount dies with them: no mount can outlive a failed test. keepalived -t needs the
# interface (FACTS 7): it runs in a network namespace of its own with a veth named eth0.

# Single-quoted $0, $@ and ${Status} are meant for the inner shell and dpkg-query.
# shellcheck disable=SC2016

load '../helpers/common'

PK_DIR=$KA_REPO/build/pkg-test
PK_ROOT=$PK_DIR/root
PK_CACHE=$KA_REPO/build/pkg-cache/bookworm-keepalived-systemd.tar

# The Debian mirror apt on this machine uses (deb822 or one-line sources), else Debian's.
debian_mirror() {
	local m
	m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	[ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/*[[:space:]]\+bookworm[[:space:]].*/\2/p' \
		/etc/apt/sources.list 2>/dev/null | head -1)
	echo "${m:-http://deb.debian.org/debian}"
}

# Runs "$@" chrooted into the root with /proc mounted in a private mount namespace.
in_root() {
	unshare --mount --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" env -i DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"' \
		"$PK_ROOT" "$@"
}

# The version the binaries print (check/ka-check-mariadb.c), the one the package must carry.
src_version() {
	sed -n '/define VERSION "/{s/.*"\(.*\)".*/\1/p;q}' "$KA_REPO/check/ka-check-mariadb.c"
}

setup_file() {
	export PK_OK=0 PK_NS="ka-pkg-$$"
	[ "$(id -u)" = 0 ] || return 0
	command -v mmdebstrap dpkg-buildpackage lintian unshare >/dev/null || return 0
	mkdir -p "$PK_DIR" "${PK_CACHE%/*}"
	rm -rf "$PK_ROOT" "$PK_DIR/deb"
	# The package, built as `make deb` builds it (lintian included).
	make --no-print-directory -C "$KA_REPO" deb DEBDIR="$PK_DIR/deb" > "$PK_DIR/make-deb.log" 2>&1
	echo $? > "$PK_DIR/make-deb.rc"
	if [ ! -s "$PK_CACHE" ]; then
		mmdebstrap --variant=minbase --include=keepalived,systemd --format=tar \
			bookworm "$PK_CACHE.tmp" "deb $(debian_mirror) bookworm main" \
			> "$PK_DIR/mmdebstrap.log" 2>&1 && mv -f "$PK_CACHE.tmp" "$PK_CACHE"
		rm -f "$PK_CACHE.tmp"
	fi
	[ -s "$PK_CACHE" ] || return 0
	mkdir -p "$PK_ROOT" && tar -C "$PK_ROOT" -xf "$PK_CACHE" || return 0
	# Nothing may be started by installing (invoke-rc.d asks policy-rc.d: 101 = forbidden).
	printf '#!/bin/sh\nexit 101\n' > "$PK_ROOT/usr/sbin/policy-rc.d"
	chmod 755 "$PK_ROOT/usr/sbin/policy-rc.d"
	PK_OK=1
}

teardown_file() {
	ip netns del "$PK_NS" 2>/dev/null
	# Mounts live in private namespaces only; this is the belt to those braces.
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$PK_ROOT/" | sort -r); do umount -l "$m"; done
	rm -rf "$PK_ROOT"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (chroot, namespaces)"
	command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (make deps)"
	DEB=$PK_DIR/deb/ka-mariadb_$(src_version)_amd64.deb
}

need_root_fs() {
	[ "$PK_OK" = 1 ] || { cat "$PK_DIR/mmdebstrap.log" 2>/dev/null; false; }
	[ -f "$DEB" ] || { echo "no package: $DEB"; false; }
}

# Every path in the root that a package could own (volatile and apt/dpkg bookkeeping left out).
root_files() {
	(cd "$PK_ROOT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp \
		-o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache \
		-o -path ./var/log \) -prune -o -print | sort)
}

@test "make deb builds ka-mariadb_VERSION_amd64.deb, lintian has no unexplained error or warning" {
	run cat "$PK_DIR/make-deb.rc"
	[ "$output" = 0 ] || { tail -40 "$PK_DIR/make-deb.log"; false; }
	[ -f "$DEB" ]
	grep -q 'lintian --fail-on error,warning' "$PK_DIR/make-deb.log"
	[ "$(dpkg-deb -f "$DEB" Version)" = "$(src_version)" ]
	[ "$(cd "$KA_REPO" && dpkg-parsechangelog -S Version)" = "$(src_version)" ]
}

@test "the package's control fields: Depends keepalived, Recommends mariadb-server, no library deps" {
	[ -f "$DEB" ]
	[ "$(dpkg-deb -f "$DEB" Architecture)" = amd64 ]
	[ "$(dpkg-deb -f "$DEB" Depends)" = keepalived ]
	[ "$(dpkg-deb -f "$DEB" Recommends)" = mariadb-server ]
	# Nothing enabled or started by the maintainer scripts.
	dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./postinst ./postrm 2>/dev/null > "$BATS_TEST_TMPDIR/scripts" || true
	run grep -E 'deb-systemd-invoke|systemctl (start|enable|restart)|deb-systemd-helper enable|invoke-rc.d' "$BATS_TEST_TMPDIR/scripts"
	assert_failure
}

@test "the package's layout: libexec root 0755, man8, /usr/share/ka-mariadb, examples, unit, 0700 dirs" {
	[ -f "$DEB" ]
	dpkg-deb -c "$DEB" | awk '{ print $1, $2, $6 }' > "$BATS_TEST_TMPDIR/list"
	local b
	for b in ka-check-mariadb ka-check-proxysql ka-notify-mariadb ka-drill ka-status ka-watch-mariadb; do
		grep -qx -- "-rwxr-xr-x root/root ./usr/libexec/ka-mariadb/$b" "$BATS_TEST_TMPDIR/list"
		grep -q "^-rw-r--r-- root/root ./usr/share/man/man8/$b.8.gz$" "$BATS_TEST_TMPDIR/list"
	done
	grep -qx -- "-rwxr-xr-x root/root ./usr/share/ka-mariadb/render" "$BATS_TEST_TMPDIR/list"
	grep -qx -- "-rwxr-xr-x root/root ./usr/sbin/ka-mariadb-render" "$BATS_TEST_TMPDIR/list"
	grep -q "./usr/share/man/man8/ka-mariadb-render.8.gz$" "$BATS_TEST_TMPDIR/list"
	for b in keepalived-primary-replica.conf keepalived-master-master.conf keepalived-proxysql.conf \
		mariadb-ha.cnf grants.sql ka.cnf; do
		grep -q " ./usr/share/ka-mariadb/$b.in$" "$BATS_TEST_TMPDIR/list"
	done
	grep -q " ./usr/share/doc/ka-mariadb/examples/node.vars$" "$BATS_TEST_TMPDIR/list"
	grep -q " ./usr/share/doc/ka-mariadb/examples/keepalived.conf$" "$BATS_TEST_TMPDIR/list"
	grep -q " ./lib/systemd/system/ka-watch-mariadb@.service$" "$BATS_TEST_TMPDIR/list"
	grep -q " ./usr/lib/tmpfiles.d/ka-mariadb.conf$" "$BATS_TEST_TMPDIR/list"
	grep -qx "drwx------ root/root ./etc/ka-mariadb/" "$BATS_TEST_TMPDIR/list"
	grep -qx "drwx------ root/root ./var/lib/ka-mariadb/" "$BATS_TEST_TMPDIR/list"
	run grep -E '/usr/local|ka-mariadb/h14' "$BATS_TEST_TMPDIR/list"
	assert_failure
}

@test "apt-get install ./ka-mariadb_*.deb into a clean Debian 12 root: installed, nothing enabled or started" {
	need_root_fs
	root_files > "$PK_DIR/before.list"
	cp "$DEB" "$PK_ROOT/tmp/"
	# --no-install-recommends: mariadb-server (Recommends) is not what this test is about.
	run in_root apt-get install -y --no-install-recommends "/tmp/${DEB##*/}"
	assert_success
	run in_root dpkg-query -W -f '${Status} ${Version}' ka-mariadb
	assert_output "install ok installed $(src_version)"
	# The template unit is not enabled (no instance link anywhere under /etc/systemd).
	run find "$PK_ROOT/etc/systemd" -name 'ka-watch-mariadb@*'
	assert_output ""
	# The tmpfiles.d entry was applied by the postinst (systemd-tmpfiles is in the root).
	[ "$(stat -c '%U %a' "$PK_ROOT/run/ka-mariadb")" = "root 700" ]
	[ "$(stat -c '%U %a' "$PK_ROOT/var/lib/ka-mariadb")" = "root 700" ]
	[ "$(stat -c '%U %a' "$PK_ROOT/etc/ka-mariadb")" = "root 700" ]
	in_root dpkg -L ka-mariadb > "$PK_DIR/package.list"
}

@test "every installed binary runs --version and prints the package's version" {
	need_root_fs
	local b n=0
	for b in "$PK_ROOT"/usr/libexec/ka-mariadb/*; do
		run in_root "/usr/libexec/ka-mariadb/${b##*/}" --version
		assert_success
		assert_output --partial "$(src_version)"
		[ "$(stat -c '%U:%G %a' "$b")" = "root:root 755" ]
		n=$((n + 1))
	done
	[ "$n" -ge 6 ]
}

@test "ka-mariadb-render renders the example node's configs; keepalived -t accepts them (netns with eth0)" {
	need_root_fs
	ip netns add "$PK_NS"
	ip -n "$PK_NS" link add eth0 type veth peer name eth0p
	# The example vars as shipped (INTERFACE=eth0), the packaged KA_BIN default; render runs
	# its host checks (script security on /usr/libexec/ka-mariadb) and keepalived -t.
	run ip netns exec "$PK_NS" unshare --mount --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ka-mariadb-render --vars /usr/share/doc/ka-mariadb/examples/node.vars --out /tmp/keepalived.conf keepalived-primary-replica' "$PK_ROOT"
	assert_success
	assert_output --partial "timing:"
	grep -q '"/usr/libexec/ka-mariadb/ka-check-mariadb ' "$PK_ROOT/tmp/keepalived.conf"
	grep -q '"/usr/libexec/ka-mariadb/ka-notify-mariadb ' "$PK_ROOT/tmp/keepalived.conf"
	run ip netns exec "$PK_NS" chroot "$PK_ROOT" /usr/sbin/keepalived -t -f /tmp/keepalived.conf
	assert_success
	# The master-master template with NOTIFY=fifo (needs /run/ka-mariadb from tmpfiles.d).
	run ip netns exec "$PK_NS" chroot "$PK_ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		ka-mariadb-render --vars /usr/share/doc/ka-mariadb/examples/node.vars --out /tmp/mm.conf \
		keepalived-master-master NOTIFY=fifo
	assert_success
	# The other templates render from /usr/share/ka-mariadb too.
	run in_root ka-mariadb-render --vars /usr/share/doc/ka-mariadb/examples/node.vars --out /tmp/ka.cnf ka.cnf
	assert_success
	[ "$(stat -c '%a' "$PK_ROOT/tmp/ka.cnf")" = 600 ]
	run in_root ka-mariadb-render --list
	assert_line keepalived-primary-replica
	assert_line mariadb-ha.cnf
	ip netns del "$PK_NS"
}

@test "systemd-analyze verify accepts the installed template unit (an instance of it)" {
	need_root_fs
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	# Run on the host against the root (--root: unit search path and ExecStart binary are
	# resolved inside it). --man=no: the root has no man-db; the page is checked by file.
	run systemd-analyze verify --man=no --root="$PK_ROOT" ka-watch-mariadb@db.service
	assert_success
	refute_output --partial "ka-watch-mariadb"
	[ -f "$PK_ROOT/usr/share/man/man8/ka-watch-mariadb.8.gz" ]
	grep -qx 'ExecStart=/usr/libexec/ka-mariadb/ka-watch-mariadb --track-file /run/ka-mariadb/watch-%i $KA_WATCH_OPTS' \
		"$PK_ROOT/lib/systemd/system/ka-watch-mariadb@.service"
}

@test "apt-get purge leaves no file of the package behind (also the state it wrote)" {
	need_root_fs
	[ -s "$PK_DIR/package.list" ] || skip "not installed by the test before"
	# What the programs write at run time: journal, fault file, watcher file.
	echo 0 > "$PK_ROOT/var/lib/ka-mariadb/fault"
	echo '{}' > "$PK_ROOT/var/lib/ka-mariadb/journal.jsonl"
	echo 0 > "$PK_ROOT/run/ka-mariadb/watch-db"
	run in_root apt-get purge -y ka-mariadb
	assert_success
	run in_root dpkg-query -W -f '${Status}' ka-mariadb
	refute_output --partial "installed"
	local f left=()
	while IFS= read -r f; do
		[ "$f" = /. ] && continue
		[ -e "$PK_ROOT$f" ] || continue
		# Shared directories (/usr, /usr/share/doc ...) stay; anything of ours does not.
		case $f in *ka-mariadb*|*ka-watch*|*ka-check*|*ka-notify*|*ka-drill*|*ka-status*) left+=("$f") ;; esac
	done < "$PK_DIR/package.list"
	[ ${#left[@]} -eq 0 ] || { printf 'left: %s\n' "${left[@]}"; false; }
	root_files > "$PK_DIR/after.list"
	run diff "$PK_DIR/before.list" "$PK_DIR/after.list"
	assert_success
}
