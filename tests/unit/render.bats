#!/usr/bin/env bats
# conf-templates/render: values in, a keepalived -t checked config and a timing line out.
# keepalived -t needs the interface to exist: the validation tests run it inside a network
# namespace of their own with a veth named eth0 (created in setup_file, removed in
# teardown_file; skipped when not root or keepalived is missing).

load '../helpers/common'

RENDER=$KA_REPO/conf-templates/render

setup_file() {
	export RT_NS="ka-render-$$"
	export RT_DIR
	RT_DIR=$(mktemp -d /tmp/ka-render.XXXXXX)
	# A root-owned bin dir with the checkers keepalived -t looks for (script security), and
	# the directories the fault file and the notify FIFO need on this host.
	mkdir -p "$RT_DIR/bin" "$RT_DIR/state" "$RT_DIR/run"
	for b in ka-check-mariadb ka-check-proxysql ka-notify-mariadb; do
		printf '#!/bin/sh\nexit 0\n' > "$RT_DIR/bin/$b"
		chmod 755 "$RT_DIR/bin/$b"
	done
	export RT_CAN_VALIDATE=0
	if [ "$(id -u)" = 0 ] && command -v keepalived >/dev/null &&
		ip netns add "$RT_NS" 2>/dev/null; then
		ip -n "$RT_NS" link add eth0 type veth peer name eth0p && RT_CAN_VALIDATE=1
	fi
}

teardown_file() {
	ip netns del "$RT_NS" 2>/dev/null
	rm -rf "$RT_DIR"
}

setup() {
	VARS=$BATS_TEST_TMPDIR/db1.vars
	cat > "$VARS" <<EOF
# db1 of the lab pair
ROLE=master
NODE_NAME=db1
INTERFACE=eth0
VIP=192.0.2.100
ROUTER_ID=51
NODE_IP=192.0.2.11
PEER_IP=192.0.2.12
KA_BIN=$RT_DIR/bin
EOF
}

need_validation() {
	[ "$RT_CAN_VALIDATE" = 1 ] || skip "needs root, keepalived and network namespaces"
}

# Host paths that exist here, for the tests that validate against this host.
HOST=(FAULT_FILE="$RT_DIR/state/fault" STATE_DIR="$RT_DIR/state"
	NOTIFY_FIFO_PATH="$RT_DIR/run/notify.fifo")

# A bin dir of its own under DIR with copies of the stand-in binaries named in "$@".
bin_copy() {
	local dir=$1 b
	shift
	mkdir -p "$dir"
	for b in "$@"; do cp -p "$RT_DIR/bin/$b" "$dir/"; done
}

@test "--help prints the usage with the exit codes and exits 0" {
	run "$RENDER" --help
	assert_success
	assert_output --partial "usage: render"
	assert_output --partial "78"
}

@test "--list names the keepalived, MariaDB and account templates" {
	run "$RENDER" --list
	assert_success
	for t in keepalived-primary-replica keepalived-master-master keepalived-proxysql \
		mariadb-ha.cnf grants.sql ka.cnf; do
		assert_line "$t"
	done
}

@test "an unknown template is a usage error (64)" {
	run "$RENDER" --vars "$VARS" no-such-template
	assert_failure 64
	assert_output --partial "unknown template 'no-such-template'"
}

@test "a missing VIP exits 78 and names VIP" {
	sed -i '/^VIP=/d' "$VARS"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica
	assert_failure 78
	assert_output --partial "missing value for 'VIP'"
}

@test "every missing value is named at once and nothing is written" {
	run "$RENDER" --no-validate --out "$BATS_TEST_TMPDIR/out.conf" keepalived-primary-replica \
		KA_BIN=/x
	assert_failure 78
	for v in ROLE NODE_NAME INTERFACE VIP ROUTER_ID PEER_IP; do
		assert_output --partial "missing value for '$v'"
	done
	[ ! -e "$BATS_TEST_TMPDIR/out.conf" ]
}

@test "a malformed peer IP exits 78 and names PEER_IP" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PEER_IP=192.0.2.300
	assert_failure 78
	assert_output --partial "malformed value for 'PEER_IP': '192.0.2.300' is not an IPv4 address"
}

@test "malformed interface, router id and witness are each named" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica \
		'INTERFACE=eth0;reboot' ROUTER_ID=256 WITNESS=192.0.2.30
	assert_failure 78
	assert_output --partial "malformed value for 'INTERFACE'"
	assert_output --partial "malformed value for 'ROUTER_ID': 256 is outside 1..255"
	assert_output --partial "malformed value for 'WITNESS': '192.0.2.30' is not IPv4:PORT"
}

@test "a sub-second advert_int needs VRRP version 3" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica ADVERT_INT=0.5
	assert_failure 78
	assert_output --partial "VRRPv2 needs whole seconds"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica ADVERT_INT=0.5 \
		VRRP_VERSION=3
	assert_success
	assert_output --partial "advert_int 0.5"
	assert_output --partial "version 3"
}

@test "a check timeout not well under the interval is refused (FACTS 3)" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica CHECK_TIMEOUT_MS=1000
	assert_failure 78
	assert_output --partial "malformed value for 'CHECK_TIMEOUT_MS'"
}

@test "a replication weight outside 11..89 is refused, saying it counts only in elections" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica REPL_WEIGHT=10
	assert_failure 78
	assert_output --partial "malformed value for 'REPL_WEIGHT': 10 is outside 11..89"
	assert_output --partial "counts only in elections"
	assert_output --partial "never moves the VIP from a serving MASTER"
	refute_output --partial "flip"
}

@test "the rendered chk_replication says its weight never moves the VIP from a serving MASTER" {
	for t in keepalived-primary-replica keepalived-master-master; do
		run "$RENDER" --vars "$VARS" --no-validate --quiet "$t"
		assert_success
		assert_output --partial "# Is replication healthy? Failure costs 20 points of priority, which counts only in"
		assert_output --partial "the VIP from a serving MASTER."
		refute_output --partial "the gap of 10)"
	done
}

@test "the rendered chk_mysqld says keepalived's script timeout is whole seconds and the checker's deadline ends it first" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica
	assert_success
	assert_output --partial "timeout is whole seconds (1 s, interval 1 s): a check still running then is"
	assert_output --partial "killed, with interval 1 as its successor starts. The checker's own --timeout 800 ms"
	assert_line "    timeout 1"
}

@test "a malformed line in the vars file exits 78 with its line number" {
	echo "this is not an assignment" >> "$VARS"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica
	assert_failure 78
	assert_output --partial "malformed line 10"
}

@test "master renders priority 100, backup 90, both state BACKUP with nopreempt" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica
	assert_success
	assert_line "    priority 100"
	assert_line "    state BACKUP"
	assert_line "    nopreempt"
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica ROLE=backup
	assert_success
	assert_line "    priority 90"
	assert_line "    state BACKUP"
	assert_line "    nopreempt"
}

@test "script security, the FAULT check at weight 0, the replication weight and the track_file" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica
	assert_success
	assert_line "    enable_script_security"
	assert_line "    script_user root"
	assert_output --partial "ka-check-mariadb --socket /run/mysqld/mysqld.sock --defaults-file /etc/ka-mariadb/ka.cnf --timeout 800 --peer 192.0.2.12:3306\""
	assert_line "    weight 0"
	assert_line "    weight -20"
	assert_line "    track_file {"
	assert_output --partial "notify_master \"$RT_DIR/bin/ka-notify-mariadb --defaults-file /etc/ka-mariadb/ka.cnf --mode primary-replica --peer 192.0.2.12:3306"
	refute_output --partial "unicast_peer"
	refute_output --partial "#@"
}

@test "the witness becomes --witness on the mysqld check" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica \
		WITNESS=192.0.2.30:7,192.0.2.31:7
	assert_success
	assert_output --partial "--peer 192.0.2.12:3306 --witness 192.0.2.30:7,192.0.2.31:7\""
}

@test "UNICAST=yes adds unicast_src_ip and the peer" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica UNICAST=yes
	assert_success
	assert_line "    unicast_src_ip 192.0.2.11"
	assert_line "        192.0.2.12"
}

@test "NOTIFY=fifo wires the notify FIFO instead of notify_* scripts" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica NOTIFY=fifo
	assert_success
	assert_line "    vrrp_notify_fifo /run/ka-mariadb/notify.fifo"
	assert_output --partial "--catchup-timeout 30 --fifo\""
	refute_output --partial "notify_master"
}

@test "the master-master template runs ka-notify-mariadb in master-master mode" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-master-master
	assert_success
	assert_output --partial "--mode master-master"
	assert_line "    nopreempt"
}

@test "the ProxySQL pair is MASTER 100 / BACKUP 90 with weight -20 and fall 2, no nopreempt" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-proxysql
	assert_success
	assert_line "    state MASTER"
	assert_line "    priority 100"
	assert_line "    weight -20"
	assert_line "    fall 2"
	refute_output --partial "nopreempt"
	assert_output --partial "ka-check-proxysql"
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-proxysql ROLE=backup
	assert_line "    state BACKUP"
	assert_line "    priority 90"
}

@test "the timing line shows the worst case of the default timers" {
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db1.conf" \
		keepalived-primary-replica
	assert_success
	assert_output --partial "timing: mysqld failure -> VIP on the peer within 2.53 s"
	assert_output --partial "node or keepalived death -> within 3.73 s"
	grep -q "^# timing: mysqld failure" "$BATS_TEST_TMPDIR/db1.conf"
}

@test "VRRPv3 sub-second adverts shorten the node-death time in the timing line" {
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db1.conf" \
		keepalived-primary-replica VRRP_VERSION=3 ADVERT_INT=0.2
	assert_success
	assert_output --partial "node or keepalived death -> within 0.75 s"
}

@test "good values give a config keepalived -t accepts, for every keepalived template" {
	need_validation
	for t in keepalived-primary-replica keepalived-master-master keepalived-proxysql; do
		for role in master backup; do
			run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
				"$t" ROLE=$role UNICAST=yes "${HOST[@]}"
			assert_success
			assert_output --partial "timing:"
			run ip netns exec "$RT_NS" keepalived -t -f "$BATS_TEST_TMPDIR/k.conf"
			assert_success
		done
	done
}

@test "VRRPv3 with a 0.2 s advert_int and the FIFO wiring pass keepalived -t" {
	need_validation
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica VRRP_VERSION=3 ADVERT_INT=0.2 NOTIFY=fifo "${HOST[@]}"
	assert_success
}

@test "a config keepalived -t rejects (interface missing there) exits 78 and writes nothing" {
	need_validation
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica INTERFACE=eth9 "${HOST[@]}"
	assert_failure 78
	assert_output --partial "keepalived -t rejected"
	[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
}

@test "a check binary that does not exist exits 78 and names it" {
	need_validation
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica KA_BIN=/nonexistent/bin "${HOST[@]}"
	assert_failure 78
	assert_output --partial "script '/nonexistent/bin/ka-check-mariadb' does not exist"
	[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
}

@test "a missing notify binary exits 78 although keepalived -t accepts the config" {
	need_validation
	bin_copy "$BATS_TEST_TMPDIR/bin" ka-check-mariadb
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --no-validate --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica KA_BIN="$BATS_TEST_TMPDIR/bin" "${HOST[@]}"
	assert_success
	run ip netns exec "$RT_NS" keepalived -t -f "$BATS_TEST_TMPDIR/k.conf"
	assert_success
	rm -f "$BATS_TEST_TMPDIR/k.conf"
	for notify in scripts fifo; do
		run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
			keepalived-primary-replica KA_BIN="$BATS_TEST_TMPDIR/bin" NOTIFY=$notify "${HOST[@]}"
		assert_failure 78
		assert_output --partial "script '$BATS_TEST_TMPDIR/bin/ka-notify-mariadb' does not exist"
		[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
	done
}

@test "a notify binary in a 0777 directory exits 78: keepalived would disable it as unsafe" {
	need_validation
	bin_copy "$BATS_TEST_TMPDIR/open" ka-check-mariadb
	bin_copy "$BATS_TEST_TMPDIR/open/notify" ka-notify-mariadb
	chmod 0777 "$BATS_TEST_TMPDIR/open/notify"
	ln -s "$BATS_TEST_TMPDIR/open/notify/ka-notify-mariadb" "$BATS_TEST_TMPDIR/open/ka-notify-mariadb"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica KA_BIN="$BATS_TEST_TMPDIR/open" "${HOST[@]}"
	assert_failure 78
	assert_output --partial "script '$BATS_TEST_TMPDIR/open/ka-notify-mariadb' is unsafe for keepalived's script security: '$BATS_TEST_TMPDIR/open/notify' is writable by others (mode 777)"
	refute_output --partial "ka-check-mariadb' is unsafe"
}

@test "script security as keepalived's: other owner, non-root group write and no x bit refused; sticky dir and root group write pass" {
	need_validation
	local b=$BATS_TEST_TMPDIR/sec
	bin_copy "$b" ka-check-mariadb ka-notify-mariadb
	chown 1:0 "$b/ka-notify-mariadb"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica KA_BIN="$b" "${HOST[@]}"
	assert_failure 78
	assert_output --partial "'$b/ka-notify-mariadb' is owned by uid 1, not root"
	chown 0:1 "$b/ka-notify-mariadb"
	chmod 775 "$b/ka-notify-mariadb"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica KA_BIN="$b" "${HOST[@]}"
	assert_failure 78
	assert_output --partial "is writable by group 1 (mode 775)"
	chown 0:0 "$b/ka-notify-mariadb"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica KA_BIN="$b" "${HOST[@]}"
	assert_success
	chmod 644 "$b/ka-notify-mariadb"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica KA_BIN="$b" "${HOST[@]}"
	assert_failure 78
	assert_output --partial "ka-notify-mariadb' is not executable"
	chmod 755 "$b/ka-notify-mariadb"
	chmod 1777 "$b"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica KA_BIN="$b" "${HOST[@]}"
	assert_success
}

@test "a fault file whose directory does not exist exits 78 and names FAULT_FILE" {
	need_validation
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica "${HOST[@]}" FAULT_FILE="$BATS_TEST_TMPDIR/nodir/fault"
	assert_failure 78
	assert_output --partial "directory '$BATS_TEST_TMPDIR/nodir' of FAULT_FILE does not exist"
	assert_output --partial "Track file directory"
	[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
}

@test "the notify FIFO in a directory that does not exist exits 78 and names NOTIFY_FIFO_PATH" {
	need_validation
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica \
		"${HOST[@]}" NOTIFY=fifo NOTIFY_FIFO_PATH="$BATS_TEST_TMPDIR/nodir/notify.fifo"
	assert_failure 78
	assert_output --partial "directory '$BATS_TEST_TMPDIR/nodir' of NOTIFY_FIFO_PATH does not exist"
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica \
		"${HOST[@]}" NOTIFY=scripts NOTIFY_FIFO_PATH="$BATS_TEST_TMPDIR/nodir/notify.fifo"
	assert_success
}

@test "a FIFO directory on tmpfs passes only when a tmpfiles.d entry recreates it at boot" {
	need_validation
	command -v unshare >/dev/null || skip "needs unshare"
	local t=$BATS_TEST_TMPDIR/tmpfs
	mkdir -p "$t" "$BATS_TEST_TMPDIR/tmpfiles.d"
	# A tmpfs of this test's own, in a mount namespace of its own.
	run unshare -m bash -c 'mount -t tmpfs ka-render-test "$1" && mkdir "$1/ka" &&
		RENDER_TMPFILES_DIRS=$2 "${@:3}"' _ "$t" "$BATS_TEST_TMPDIR/tmpfiles.d" \
		"$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica \
		"${HOST[@]}" NOTIFY=fifo NOTIFY_FIFO_PATH="$t/ka/notify.fifo"
	assert_failure 78
	assert_output --partial "directory '$t/ka' of NOTIFY_FIFO_PATH is on tmpfs and no tmpfiles.d entry recreates it at boot"
	echo "d $t/ka 0700 root root -" > "$BATS_TEST_TMPDIR/tmpfiles.d/ka-mariadb.conf"
	run unshare -m bash -c 'mount -t tmpfs ka-render-test "$1" && mkdir "$1/ka" &&
		RENDER_TMPFILES_DIRS=$2 "${@:3}"' _ "$t" "$BATS_TEST_TMPDIR/tmpfiles.d" \
		"$RENDER" --vars "$VARS" --netns "$RT_NS" --quiet keepalived-primary-replica \
		"${HOST[@]}" NOTIFY=fifo NOTIFY_FIFO_PATH="$t/ka/notify.fifo"
	assert_success
}

@test "--no-validate skips the host checks: rendering for another machine" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica \
		KA_BIN=/nonexistent/bin FAULT_FILE=/nonexistent/dir/fault NOTIFY=fifo
	assert_success
}

@test "mariadb-ha.cnf: read_only at boot, binlog, GTID strict, semi-sync AFTER_SYNC, server_id" {
	run "$RENDER" --no-validate mariadb-ha.cnf NODE_NAME=db1 SERVER_ID=11
	assert_success
	assert_line --regexp '^server_id += 11$'
	assert_line --regexp '^read_only += ON$'
	assert_line --regexp '^log_bin += mysql-bin$'
	assert_line --regexp '^gtid_strict_mode += ON$'
	assert_line --regexp '^log_slave_updates += ON$'
	assert_line --regexp '^rpl_semi_sync_master_wait_point += AFTER_SYNC$'
	assert_line --regexp '^init_rpl_role += SLAVE$'
	run "$RENDER" --no-validate mariadb-ha.cnf NODE_NAME=db1 SERVER_ID=0
	assert_failure 78
	assert_output --partial "'SERVER_ID'"
}

@test "grants.sql: least privilege, the application never gets READ ONLY ADMIN" {
	run "$RENDER" grants.sql HA_NET=192.0.2.% APP_NET=192.0.2.% CHECK_PASSWORD=check-pw-1 \
		HA_PASSWORD=ha-pw-123 REPL_PASSWORD=repl-pw-1 APP_PASSWORD=app-pw-12
	assert_success
	assert_output --partial "GRANT SLAVE MONITOR, CONNECTION ADMIN ON *.* TO 'ka_check'@'localhost', 'ka_check'@'192.0.2.%'"
	assert_output --partial "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'192.0.2.%'"
	run bash -c "'$RENDER' grants.sql HA_NET=192.0.2.% APP_NET=192.0.2.% CHECK_PASSWORD=check-pw-1 HA_PASSWORD=ha-pw-123 REPL_PASSWORD=repl-pw-1 APP_PASSWORD=app-pw-12 | sed -n '/TO .app/,\$p;/ON .app/p' | grep -v '^--'"
	refute_output --partial "READ ONLY ADMIN"
	refute_output --partial "ALL PRIVILEGES"
}

@test "a password with a quote is refused: it would break grants.sql" {
	run "$RENDER" grants.sql HA_NET=192.0.2.% APP_NET=192.0.2.% CHECK_PASSWORD="it's-bad-pw" \
		HA_PASSWORD=ha-pw-123 REPL_PASSWORD=repl-pw-1 APP_PASSWORD=app-pw-12
	assert_failure 78
	assert_output --partial "malformed value for 'CHECK_PASSWORD'"
}

@test "ka.cnf is written mode 0600 with the three account groups" {
	run "$RENDER" --out "$BATS_TEST_TMPDIR/ka.cnf" ka.cnf CHECK_PASSWORD=check-pw-1 \
		HA_PASSWORD=ha-pw-123 REPL_PASSWORD=repl-pw-1
	assert_success
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/ka.cnf")" = 600 ]
	grep -qx '\[client\]' "$BATS_TEST_TMPDIR/ka.cnf"
	grep -qx '\[ka-check-mariadb\]' "$BATS_TEST_TMPDIR/ka.cnf"
	grep -qx '\[ka-replication\]' "$BATS_TEST_TMPDIR/ka.cnf"
}

@test "values from the environment are used, the vars file wins over them" {
	VIP=192.0.2.99 ROUTER_ID=7 run "$RENDER" --vars "$VARS" --no-validate --quiet \
		keepalived-primary-replica
	assert_success
	assert_output --partial "192.0.2.100/24 dev eth0"
	assert_line "    virtual_router_id 51"
	sed -i '/^VIP=/d' "$VARS"
	VIP=192.0.2.99 run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica
	assert_success
	assert_output --partial "192.0.2.99/24 dev eth0"
}

@test "a comment after a value in the vars file is ignored, quotes are removed" {
	sed -i 's/^ROLE=master$/ROLE=master      # priority 100/; s/^VIP=.*/VIP="192.0.2.100"/' "$VARS"
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica
	assert_success
	assert_line "    priority 100"
	assert_output --partial "192.0.2.100/24 dev eth0"
}

@test "the shipped node.vars.example renders every template" {
	for t in keepalived-primary-replica keepalived-master-master keepalived-proxysql \
		mariadb-ha.cnf grants.sql ka.cnf; do
		run "$RENDER" --vars "$KA_REPO/conf-templates/node.vars.example" --no-validate --quiet "$t"
		assert_success
	done
}

# ---- PROFILE=fast: VRRPv3 sub-second adverts + the ka-watch-mariadb track_file -----------

@test "PROFILE=stock (the default) renders no watcher track_file and VRRPv2 at 1 s" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica
	assert_success
	refute_output --partial "ka_watch"
	refute_output --partial "version 3"
	assert_line "    advert_int 1"
}

@test "PROFILE=fast renders VRRPv3 at 0.1 s, the watcher's track_file at weight 0 and keeps both vrrp_scripts" {
	for t in keepalived-primary-replica keepalived-master-master; do
		run "$RENDER" --vars "$VARS" --no-validate --quiet "$t" PROFILE=fast
		assert_success
		assert_line "    advert_int 0.1"
		assert_line "    version 3"
		assert_line "track_file ka_watch {"
		assert_line '    file "/run/ka-mariadb/watch-db"'
		assert_line "    init_file 1"
		assert_line "        ka_watch"
		assert_line "        ka_fault"
		assert_line "        chk_mysqld"
		assert_line "        chk_replication"
		assert_line "vrrp_script chk_mysqld {"
		# weight 0 for the watcher: the line after init_file's block header carries it
		[ "$(grep -A3 '^track_file ka_watch {' <<<"$output" | grep -c '    weight 0')" = 1 ]
	done
}

@test "PROFILE=fast's timing line states the watcher's path, node death and the vrrp_script backstop" {
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db1.conf" \
		keepalived-primary-replica PROFILE=fast
	assert_success
	assert_output --partial "timing (fast profile): mysqld failure -> VIP on the peer within 0.67 s"
	assert_output --partial "detection <= 0.60 s = probe interval 0.10 s + probe timeout 0.50 s"
	assert_output --partial "node or keepalived death -> within 0.37 s"
	assert_output --partial "backstop with the watcher dead: mysqld failure -> within 1.87 s"
	grep -q "^# timing (fast profile):" "$BATS_TEST_TMPDIR/db1.conf"
}

@test "PROFILE=fast takes an explicit ADVERT_INT, WATCH_FILE and watcher timers" {
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db1.conf" \
		keepalived-primary-replica PROFILE=fast ADVERT_INT=0.2 WATCH_FILE=/run/ka-mariadb/watch-x \
		WATCH_INTERVAL_MS=50 WATCH_TIMEOUT_MS=200
	assert_success
	assert_output --partial "detection <= 0.25 s"
	assert_output --partial "node or keepalived death -> within 0.75 s"
	grep -qx "    advert_int 0.2" "$BATS_TEST_TMPDIR/db1.conf"
	grep -qx '    file "/run/ka-mariadb/watch-x"' "$BATS_TEST_TMPDIR/db1.conf"
}

@test "PROFILE=fast with VRRP_VERSION=2 exits 78 naming the conflict, and writes nothing" {
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica PROFILE=fast VRRP_VERSION=2
	assert_failure 78
	assert_output --partial "PROFILE=fast needs VRRP_VERSION=3"
	refute_output --partial "ADVERT_INT"
	[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
}

@test "a PROFILE other than stock or fast, or any PROFILE but stock for the ProxySQL pair, exits 78" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PROFILE=quick
	assert_failure 78
	assert_output --partial "'quick' is not one of stock,fast"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-proxysql PROFILE=fast
	assert_failure 78
	assert_output --partial "for the MariaDB templates only"
}

@test "the watcher's environment file carries the probe's options, the peer and the witness" {
	run "$RENDER" --vars "$VARS" ka-watch-mariadb.env WITNESS=192.0.2.30:22 WATCH_TIMEOUT_MS=250
	assert_success
	assert_line "KA_WATCH_OPTS=--defaults-file /etc/ka-mariadb/ka.cnf --socket /run/mysqld/mysqld.sock --interval-ms 100 --timeout 250 --peer 192.0.2.12:3306 --witness 192.0.2.30:22"
	refute_output --partial "password"
}

@test "ka.cnf gives ka-watch-mariadb the checker's account" {
	run "$RENDER" ka.cnf HA_PASSWORD=ha-pw-12345 CHECK_PASSWORD=check-pw-1 REPL_PASSWORD=repl-pw-12
	assert_success
	[ "$(sed -n '/^\[ka-watch-mariadb\]/,/^$/p' <<<"$output" | grep -c 'user *= ka_check')" = 1 ]
}

@test "PROFILE=fast passes keepalived -t for both MariaDB templates and both roles" {
	need_validation
	for t in keepalived-primary-replica keepalived-master-master; do
		for role in master backup; do
			run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
				"$t" ROLE=$role PROFILE=fast WATCH_FILE="$RT_DIR/run/watch-db" "${HOST[@]}"
			assert_success
			assert_output --partial "timing (fast profile):"
		done
	done
}

@test "PROFILE=fast refuses a WATCH_FILE whose directory does not exist (keepalived would drop the track_file)" {
	need_validation
	run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
		keepalived-primary-replica PROFILE=fast WATCH_FILE="$RT_DIR/nowhere/watch-db" "${HOST[@]}"
	assert_failure 78
	assert_output --partial "directory '$RT_DIR/nowhere' of WATCH_FILE does not exist"
	[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
}

# ---- three or more nodes: PEER_IP lists, priorities, REPLICA_IP, ROLE=replica (issue 12) --

# db3 of a 3-node group (db1 100, db2 90, db3 80) with the read-only replica db4.
DB3=(ROLE=backup CANDIDATE_RANK=2 NODE_NAME=db3 NODE_IP=192.0.2.13
	PEER_IP=192.0.2.11,192.0.2.12)

@test "a PEER_IP list becomes one --peer list for the checks and ka-notify-mariadb and one unicast_peer line each" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}" \
		UNICAST=yes
	assert_success
	assert_output --partial "ka-check-mariadb --socket /run/mysqld/mysqld.sock --defaults-file /etc/ka-mariadb/ka.cnf --timeout 800 --peer 192.0.2.11:3306,192.0.2.12:3306\""
	assert_output --partial "notify_master \"$RT_DIR/bin/ka-notify-mariadb --defaults-file /etc/ka-mariadb/ka.cnf --mode primary-replica --peer 192.0.2.11:3306,192.0.2.12:3306 --socket"
	assert_line "    unicast_src_ip 192.0.2.13"
	[ "$(sed -n '/unicast_peer {/,/}/p' <<<"$output")" = "    unicast_peer {
        192.0.2.11
        192.0.2.12
    }" ]
}

@test "spaces around the commas of PEER_IP are dropped and PEER_PORT applies to every peer" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}" \
		PEER_IP="192.0.2.11 , 192.0.2.12" PEER_PORT=3307
	assert_success
	assert_output --partial "--peer 192.0.2.11:3307,192.0.2.12:3307\""
}

@test "the watcher's environment file carries the whole peer list" {
	run "$RENDER" --vars "$VARS" ka-watch-mariadb.env "${DB3[@]}"
	assert_success
	assert_line "KA_WATCH_OPTS=--defaults-file /etc/ka-mariadb/ka.cnf --socket /run/mysqld/mysqld.sock --interval-ms 100 --timeout 500 --peer 192.0.2.11:3306,192.0.2.12:3306"
}

@test "priorities: master 100, backup 90, CANDIDATE_RANK 2 and 3 give 80 and 70, PRIORITY overrides both" {
	local role rank want
	for want in "master - 100" "backup - 90" "backup 1 90" "backup 2 80" "backup 3 70" "backup 8 20"; do
		read -r role rank want <<<"$want"
		run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica \
			ROLE=$role PEER_IP=192.0.2.12,192.0.2.13 $([ "$rank" = - ] || echo CANDIDATE_RANK=$rank)
		assert_success
		assert_line "    priority $want"
		assert_line "    state BACKUP"
	done
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}" PRIORITY=85
	assert_success
	assert_line "    priority 85"
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-proxysql ROLE=backup CANDIDATE_RANK=2
	assert_success
	assert_line "    state BACKUP"
	assert_line "    priority 80"
}

@test "CANDIDATE_RANK with ROLE=master, a rank outside 1..8 and a PRIORITY outside 1..254 are refused" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica CANDIDATE_RANK=2
	assert_failure 78
	assert_output --partial "malformed value for 'CANDIDATE_RANK': it is for ROLE=backup only"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica ROLE=backup CANDIDATE_RANK=9
	assert_failure 78
	assert_output --partial "malformed value for 'CANDIDATE_RANK': 9 is outside 1..8"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PRIORITY=255
	assert_failure 78
	assert_output --partial "malformed value for 'PRIORITY': 255 is outside 1..254"
}

@test "--variables documents the priority scheme, the peer list and the replicas" {
	run "$RENDER" --variables
	assert_success
	assert_line --regexp "^CANDIDATE_RANK +int:1:8 .*100 - 10 x rank \(1: 90, 2: 80, 3: 70"
	assert_line --regexp "^PRIORITY +int:1:254 .*overrides ROLE and CANDIDATE_RANK"
	assert_line --regexp "^PEER_IP +ipv4list:8 .*comma list of every other one"
	assert_line --regexp "^REPLICA_IP +ipv4list:8 .*--replica"
	assert_line --regexp "^ROLE +enum:master,backup,replica "
}

@test "more than one peer adds --self NODE_IP:PORT to every notify command, the FIFO's included" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}"
	assert_success
	[ "$(grep -c -- '--catchup-timeout 30 --self 192.0.2.13:3306 ' <<<"$output")" = 4 ]
	refute_output --partial "--replica "
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}" \
		NOTIFY=fifo NODE_PORT=3310
	assert_success
	assert_output --partial "--catchup-timeout 30 --self 192.0.2.13:3310 --fifo\""
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}" \
		PEER_PORT=3307
	assert_output --partial "--self 192.0.2.13:3307 master\""
}

@test "REPLICA_IP becomes ka-notify-mariadb --replica, with --self, in both templates; never on the checks" {
	for t in keepalived-primary-replica keepalived-master-master; do
		run "$RENDER" --vars "$VARS" --no-validate --quiet "$t" REPLICA_IP=192.0.2.14,192.0.2.15
		assert_success
		assert_output --partial "--catchup-timeout 30 --self 192.0.2.11:3306 --replica 192.0.2.14:3306,192.0.2.15:3306 master\""
		refute_output --regexp "ka-check-mariadb [^\"]*--replica "
		assert_line "# keepalived.conf for db1 (MariaDB ${t#keepalived-} pair + 2 read-only replicas, role master, priority 100)"
	done
}

@test "a pair without replicas renders no --self and no --replica, and calls itself a pair" {
	for t in keepalived-primary-replica keepalived-master-master; do
		run "$RENDER" --vars "$VARS" --no-validate --quiet "$t"
		assert_success
		refute_output --partial "--self"
		refute_output --partial "--replica "
		assert_line "# keepalived.conf for db1 (MariaDB ${t#keepalived-} pair, role master, priority 100)"
	done
}

@test "the header of a group names its size and the replicas" {
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-primary-replica "${DB3[@]}" \
		REPLICA_IP=192.0.2.14
	assert_success
	assert_line "# keepalived.conf for db3 (MariaDB primary-replica group of 3 nodes + 1 read-only replica, role backup, priority 80)"
}

@test "ROLE=replica refuses every keepalived template and the watcher's file in one line, exit 78" {
	for t in keepalived-primary-replica keepalived-master-master keepalived-proxysql \
		ka-watch-mariadb.env; do
		run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/k.conf" "$t" ROLE=replica
		assert_failure 78
		assert_output "render: '$t' is not for ROLE=replica: a read-only replica runs no keepalived (render only mariadb-ha.cnf, ka.cnf and grants.sql for it, and list it in REPLICA_IP of the keepalived nodes)"
		[ ! -e "$BATS_TEST_TMPDIR/k.conf" ]
	done
}

@test "ROLE=replica renders mariadb-ha.cnf, ka.cnf and grants.sql as usual" {
	local t
	for t in mariadb-ha.cnf ka.cnf grants.sql; do
		run "$RENDER" "$t" ROLE=replica NODE_NAME=db4 SERVER_ID=14 HA_NET=192.0.2.% \
			APP_NET=192.0.2.% CHECK_PASSWORD=check-pw-1 HA_PASSWORD=ha-pw-123 \
			REPL_PASSWORD=repl-pw-1 APP_PASSWORD=app-pw-12
		assert_success
	done
	run "$RENDER" mariadb-ha.cnf ROLE=replica NODE_NAME=db4 SERVER_ID=14
	assert_line --regexp '^server_id += 14$'
	assert_line --regexp '^read_only += ON$'
}

@test "a peer listed twice, NODE_IP among the peers, more than 8 peers and an empty item are refused" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PEER_IP=192.0.2.12,192.0.2.12
	assert_failure 78
	assert_output --partial "malformed value for 'PEER_IP': '192.0.2.12' is listed twice"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PEER_IP=192.0.2.12,192.0.2.11
	assert_failure 78
	assert_output --partial "malformed value for 'PEER_IP': it lists NODE_IP (192.0.2.11)"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica \
		PEER_IP=192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5,192.0.2.6,192.0.2.7,192.0.2.8,192.0.2.9
	assert_failure 78
	assert_output --partial "malformed value for 'PEER_IP': 9 addresses, at most 8"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica \
		PEER_IP=192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5,192.0.2.6,192.0.2.7,192.0.2.8
	assert_success
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PEER_IP=192.0.2.12,
	assert_failure 78
	assert_output --partial "has an empty address"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PEER_IP=192.0.2.12,192.0.2.313
	assert_failure 78
	assert_output --partial "malformed value for 'PEER_IP': '192.0.2.313' is not an IPv4 address"
}

@test "REPLICA_IP naming a peer, NODE_IP or the VIP is refused, and so is a VIP among the peers" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica REPLICA_IP=192.0.2.14,192.0.2.12
	assert_failure 78
	assert_output --partial "malformed value for 'REPLICA_IP': '192.0.2.12' is also in PEER_IP"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica REPLICA_IP=192.0.2.11
	assert_failure 78
	assert_output --partial "malformed value for 'REPLICA_IP': it lists NODE_IP (192.0.2.11)"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica REPLICA_IP=192.0.2.14,192.0.2.14
	assert_failure 78
	assert_output --partial "'192.0.2.14' is listed twice"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica REPLICA_IP=192.0.2.100
	assert_failure 78
	assert_output --partial "malformed value for 'VIP'"
	run "$RENDER" --vars "$VARS" --no-validate keepalived-primary-replica PEER_IP=192.0.2.12,192.0.2.100
	assert_failure 78
	assert_output --partial "malformed value for 'VIP': PEER_IP lists it"
}

@test "master-master refuses more than one peer (no third writer) but takes replicas" {
	run "$RENDER" --vars "$VARS" --no-validate keepalived-master-master PEER_IP=192.0.2.12,192.0.2.13
	assert_failure 78
	assert_output --partial "malformed value for 'PEER_IP': MODE=master-master takes one peer, got 2"
	run "$RENDER" --vars "$VARS" --no-validate --quiet keepalived-master-master REPLICA_IP=192.0.2.14
	assert_success
}

@test "the timing line of a group says the highest-priority BACKUP takes over; a pair's still says the peer" {
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db3.conf" \
		keepalived-primary-replica "${DB3[@]}"
	assert_success
	assert_output --partial "timing: mysqld failure -> VIP on the highest-priority BACKUP within 2.53 s"
	assert_output --partial "the BACKUP with the highest priority, 90 in the default scheme, takes over after its skew 0.73 s at priority 70"
	assert_output --partial "each 10 points of priority lower (the higher BACKUPs down too) adds 0.039 s"
	refute_output --partial "the peer"
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db3.conf" \
		keepalived-primary-replica "${DB3[@]}" PROFILE=fast
	assert_success
	assert_output --partial "timing (fast profile): mysqld failure -> VIP on the highest-priority BACKUP within 0.67 s"
	refute_output --partial "the peer"
	run "$RENDER" --vars "$VARS" --no-validate --out "$BATS_TEST_TMPDIR/db1.conf" \
		keepalived-primary-replica REPLICA_IP=192.0.2.14
	assert_success
	assert_output --partial "timing: mysqld failure -> VIP on the peer within 2.53 s"
}

@test "a 3-node group passes keepalived -t on every node, unicast and FIFO included" {
	need_validation
	local n
	for n in "master - 192.0.2.11 192.0.2.12,192.0.2.13" "backup 1 192.0.2.12 192.0.2.11,192.0.2.13" \
		"backup 2 192.0.2.13 192.0.2.11,192.0.2.12"; do
		read -r role rank ip peers <<<"$n"
		run "$RENDER" --vars "$VARS" --netns "$RT_NS" --out "$BATS_TEST_TMPDIR/k.conf" \
			keepalived-primary-replica ROLE=$role $([ "$rank" = - ] || echo CANDIDATE_RANK=$rank) \
			NODE_IP=$ip PEER_IP=$peers REPLICA_IP=192.0.2.14 UNICAST=yes NOTIFY=fifo "${HOST[@]}"
		assert_success
		run ip netns exec "$RT_NS" keepalived -t -f "$BATS_TEST_TMPDIR/k.conf"
		assert_success
	done
}
