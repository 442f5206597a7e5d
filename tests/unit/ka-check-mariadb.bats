#!/usr/bin/env bats
# ka-check-mariadb without a server: argument handling, option files, unreachable and
# silent endpoints, signals.

setup_file() {
	export UNIT_TMP=$(mktemp -d /tmp/kam-unit.XXXXXX)
	printf '[client]\nuser=ka_check\npassword=x\n' > "$UNIT_TMP/good.cnf"
	chmod 600 "$UNIT_TMP/good.cnf"
}

teardown_file() {
	rm -rf "$UNIT_TMP"
}

setup() {
	load ../helpers/common
}

teardown() { stop_silent_listener; }

@test "exits 64 with the usage on an unknown option" {
	run -64 ka-check-mariadb --bogus
	assert_output --partial "unknown option '--bogus'"
	assert_output --partial "usage: ka-check-mariadb"
}

@test "exits 64 when an option lacks its value" {
	run -64 ka-check-mariadb --timeout
	assert_output --partial "option '--timeout' needs a value"
}

@test "exits 64 on a timeout that is not a number of milliseconds" {
	run -64 ka-check-mariadb --timeout 0.5
	assert_output --partial "invalid value '0.5' for --timeout"
	run -64 ka-check-mariadb --timeout 5
	run -64 ka-check-mariadb --timeout 99999999
}

@test "exits 64 when both --socket and --host are given" {
	run -64 ka-check-mariadb --socket /tmp/x.sock --host 127.0.0.1
	assert_output --partial "--socket and --host exclude each other"
}

@test "exits 64 on a host name instead of a numeric address" {
	run -64 ka-check-mariadb --host db1.example
	assert_output --partial "use a numeric IP address"
	run -64 ka-check-mariadb --witness 192.0.2.1:22,gateway:22
	assert_output --partial "invalid address 'gateway:22' for --witness"
	run -64 ka-check-mariadb --witness 192.0.2.1
	assert_output --partial "expected HOST:PORT"
}

@test "takes a port inside --host and refuses a contradicting --port" {
	run -2 ka-check-mariadb --host 127.0.0.1:23346
	assert_output --partial "cannot connect to '127.0.0.1:23346'"
	run -64 ka-check-mariadb --host 127.0.0.1:23346 --port 3306
	assert_output --partial "name different ports"
}

@test "takes --host [::1] with --port and refuses only a port that contradicts --port" {
	run -2 ka-check-mariadb --host '[::1]' --port 23349
	assert_output --partial "cannot connect to '::1:23349'"
	run -2 ka-check-mariadb --host '[::1]:23349' --port 23349
	run -2 ka-check-mariadb --host ::1 --port 23349
	run -64 ka-check-mariadb --host '[::1]:23349' --port 3306
	assert_output --partial "name different ports"
}

@test "refuses a bare IPv6 address with a port and takes the bracketed form" {
	run -64 ka-check-mariadb --peer 2001:db8::12:3307
	assert_output --partial "ambiguous address '2001:db8::12:3307' for --peer: write an IPv6 address with a port as [ADDRESS]:PORT"
	run -64 ka-check-mariadb --witness 2001:db8::12:3307
	assert_output --partial "ambiguous address"
	run -64 ka-check-mariadb --witness 2001:db8::12
	assert_output --partial "(an IPv6 address with a port is [ADDRESS]:PORT)"
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer '[2001:db8::12]:3307' --witness '[2001:db8::30]:22'
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer 2001:db8::12
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer '[2001:db8::12:3307]'
}

@test "refuses loopback, unspecified and this host's own addresses as witnesses" {
	run -64 ka-check-mariadb --witness 127.0.0.1:22
	assert_output --partial "witness '127.0.0.1:22' is a loopback address: a witness must be another host"
	run -64 ka-check-mariadb --witness 192.0.2.30:22,127.0.0.2:7
	assert_output --partial "witness '127.0.0.2:7' is a loopback address"
	run -64 ka-check-mariadb --witness '[::1]:22'
	assert_output --partial "witness '[::1]:22' is a loopback address"
	run -64 ka-check-mariadb --witness '[::ffff:127.0.0.1]:22'
	assert_output --partial "is a loopback address"
	run -64 ka-check-mariadb --witness 0.0.0.0:22
	assert_output --partial "is the unspecified address"
	run -64 ka-check-mariadb --witness '[::]:22'
	assert_output --partial "is the unspecified address"
	local own
	own=$(ip -o -4 addr show scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
	[ -n "$own" ] || skip "this host has no global IPv4 address"
	run -64 ka-check-mariadb --witness "$own:22"
	assert_output --partial "witness '$own:22' is an address of this host (interface "
}

@test "refuses the peer as a witness and --witness-connect-only without --witness" {
	run -64 ka-check-mariadb --peer 192.0.2.12 --witness 192.0.2.12:22
	assert_output --partial "witness '192.0.2.12:22' is the peer: a witness must be a third host"
	run -64 ka-check-mariadb --witness-connect-only
	assert_output --partial "--witness-connect-only needs --witness"
}

@test "exits 64 on a peer list with an empty item, too many peers or one peer twice" {
	run -64 ka-check-mariadb --peer 192.0.2.12,192.0.2.13,
	assert_output --partial "empty address in '192.0.2.12,192.0.2.13,' for --peer: separate addresses with one comma"
	assert_output --partial "usage: ka-check-mariadb"
	run -64 ka-check-mariadb --peer 192.0.2.12,,192.0.2.13
	assert_output --partial "empty address in '192.0.2.12,,192.0.2.13' for --peer"
	run -64 ka-check-mariadb --peer ''
	assert_output --partial "--peer needs at least one IP[:PORT]"
	run -64 ka-check-mariadb --peer 192.0.2.11,192.0.2.12,192.0.2.13,192.0.2.14,192.0.2.15,192.0.2.16,192.0.2.17,192.0.2.18,192.0.2.19
	assert_output --partial "for --peer (at most 8)"
	run -64 ka-check-mariadb --peer 192.0.2.12:3306,192.0.2.12
	assert_output --partial "duplicate address '192.0.2.12:3306' in '192.0.2.12:3306,192.0.2.12' for --peer"
	run -64 ka-check-mariadb --peer 192.0.2.12,db3
	assert_output --partial "invalid address 'db3' for --peer: use a numeric IP address, not a name"
	run -64 ka-check-mariadb --peer 192.0.2.12,192.0.2.13 --witness 192.0.2.30:22,192.0.2.13:22
	assert_output --partial "witness '192.0.2.13:22' is a peer: a witness must be a third host"
}

@test "takes a peer list and reports every peer as not asked when the local node is unreachable" {
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer '192.0.2.12,[2001:db8::13]:3307'
	assert_output --partial " peer=not-asked peers=192.0.2.12:3306/not-asked,[2001:db8::13]:3307/not-asked "
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer 192.0.2.12,192.0.2.13:3307 --json
	echo "$output" | grep '^{' | jq -e '.peer == "not-asked" and (.peers | length) == 2
		and .peers[0] == {"endpoint": "192.0.2.12:3306", "state": "not-asked"}
		and .peers[1].endpoint == "192.0.2.13:3307"'
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer 192.0.2.12
	refute_output --partial "peers="
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --peer 192.0.2.12 --json
	echo "$output" | grep '^{' | jq -e '.peer == "not-asked" and .peers == [{"endpoint": "192.0.2.12:3306", "state": "not-asked"}]'
}

@test "exits 64 on an lvs weight that would reach the shell's exit codes" {
	run -64 ka-check-mariadb --lvs-weight 124
	run -64 ka-check-mariadb --lvs-weight 0
}

@test "exits 64 on a bad --expect-read-only value and a stray argument" {
	run -64 ka-check-mariadb --expect-read-only maybe
	assert_output --partial "expected on or off"
	run -64 ka-check-mariadb extra
	assert_output --partial "unexpected argument 'extra'"
}

@test "exits 78 when the option file is missing" {
	run -78 ka-check-mariadb --defaults-file "$UNIT_TMP/none.cnf"
	assert_output --partial "cannot read option file '$UNIT_TMP/none.cnf'"
}

@test "exits 78 when the option file is readable by others" {
	cp "$UNIT_TMP/good.cnf" "$UNIT_TMP/open.cnf"
	chmod 644 "$UNIT_TMP/open.cnf"
	run -78 ka-check-mariadb --defaults-file "$UNIT_TMP/open.cnf"
	assert_output --partial "is accessible by others (mode 0644)"
}

@test "exits 78 on a malformed option file" {
	printf '[client\nuser=x\n' > "$UNIT_TMP/bad.cnf"
	chmod 600 "$UNIT_TMP/bad.cnf"
	run -78 ka-check-mariadb --defaults-file "$UNIT_TMP/bad.cnf"
	assert_output --partial "malformed line 1 in option file"
	printf '[client]\nport=notaport\n' > "$UNIT_TMP/bad.cnf"
	run -78 ka-check-mariadb --defaults-file "$UNIT_TMP/bad.cnf"
}

@test "exits 78 when the option file names the host by name (no DNS in a check)" {
	printf '[client]\nuser=x\nhost=db1.example\n' > "$UNIT_TMP/named.cnf"
	chmod 600 "$UNIT_TMP/named.cnf"
	timed run -78 ka-check-mariadb --defaults-file "$UNIT_TMP/named.cnf"
	assert_output --partial "host 'db1.example' in option file"
	[ "$TIMED_MS" -lt 2000 ]
	run -2 ka-check-mariadb --defaults-file "$UNIT_TMP/named.cnf" --socket "$UNIT_TMP/no.sock"
}

@test "exits 78 when the option file is a directory" {
	mkdir -p "$UNIT_TMP/dir.cnf"
	chmod 700 "$UNIT_TMP/dir.cnf"
	run -78 ka-check-mariadb --defaults-file "$UNIT_TMP/dir.cnf"
	assert_output --partial "is not a regular file"
}

@test "exits 2 when the unix socket does not exist" {
	run -2 ka-check-mariadb --defaults-file "$UNIT_TMP/good.cnf" --socket "$UNIT_TMP/no.sock"
	assert_output --partial "FAIL cannot connect to '$UNIT_TMP/no.sock'"
	assert_output --partial "code=2"
}

@test "exits 2 when the TCP port refuses" {
	run -2 ka-check-mariadb --defaults-file "$UNIT_TMP/good.cnf" --host 127.0.0.1 --port 23349
	assert_output --partial "cannot connect to '127.0.0.1:23349'"
}

@test "exits 3 within bounds when a listener accepts and never answers" {
	start_silent_listener 23348
	timed run -3 ka-check-mariadb --defaults-file "$UNIT_TMP/good.cnf" --host 127.0.0.1 \
		--port 23348 --timeout 300
	assert_output --partial "timed out"
	[ "$TIMED_MS" -lt 2000 ]
}

@test "exits 3, never 0, when terminated by SIGTERM mid-check" {
	start_silent_listener 23347
	ka-check-mariadb --host 127.0.0.1 --port 23347 --timeout 10000 3>&- &
	local pid=$!
	sleep 0.3
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 3 ]
}

@test "reports down as exit 1 in LVS misc_dynamic mode" {
	run -1 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --lvs-weight 100
	assert_output --partial "code=2"
}

@test "prints one parseable JSON object on failure with --json" {
	run -2 ka-check-mariadb --socket "$UNIT_TMP/no.sock" --json
	local json
	json=$(echo "$output" | grep '^{')
	[ "$(echo "$json" | jq -r .status)" = FAIL ]
	[ "$(echo "$json" | jq -r .code)" = 2 ]
	[ "$(echo "$json" | jq -r .code_name)" = unreachable ]
	[ "$(echo "$json" | jq -r .read_only)" = null ]
}

@test "prints help and version with exit 0" {
	run -0 ka-check-mariadb --help
	assert_output --partial "usage: ka-check-mariadb"
	run -0 ka-check-mariadb --version
	assert_output --regexp '^ka-check-mariadb [0-9]+\.[0-9]+'
}

@test "is a statically linked executable" {
	[ "${SANITIZE:-}" = 1 ] && skip "sanitizer builds are dynamic"
	run file -L "$KA_BIN/ka-check-mariadb"
	assert_output --partial "statically linked"
}
