#!/usr/bin/env bats
# ka-drill without a server: argument handling, option files, endpoints that refuse or
# never answer, and the README's example program (it must compile as documented).

setup_file() {
	export UNIT_TMP=$(mktemp -d /tmp/kam-unit.XXXXXX)
	printf '[client]\nuser=app\npassword=x\n' > "$UNIT_TMP/good.cnf"
	chmod 600 "$UNIT_TMP/good.cnf"
	printf '[client]\nuser=app\npassword=x\n' > "$UNIT_TMP/open.cnf"
	chmod 644 "$UNIT_TMP/open.cnf"
}

teardown_file() {
	rm -rf "$UNIT_TMP"
}

setup() {
	load ../helpers/common
	# Ports 23448/23449 of this suite's range: nothing listens there.
	DOWN=127.0.0.1:23448,127.0.0.1:23449
}

teardown() { stop_silent_listener; }

@test "exits 64 with the usage when --hosts is missing" {
	run -64 ka-drill --rate 5
	assert_output --partial "--hosts is required"
	assert_output --partial "usage: ka-drill --hosts IP:PORT"
}

@test "exits 64 on an unknown option or a missing value" {
	run -64 ka-drill --hosts 127.0.0.1:1 --bogus
	assert_output --partial "unknown option '--bogus'"
	run -64 ka-drill --hosts
	assert_output --partial "option '--hosts' needs a value"
}

@test "exits 64 on a host name instead of a numeric address" {
	run -64 ka-drill --hosts db1.example:3306
	assert_output --partial "use a numeric IP address"
	run -64 ka-drill --hosts 127.0.0.1:3306 --verify-hosts localhost
	assert_output --partial "for --verify-hosts"
}

@test "exits 64 on a rate, duration or timeout out of range" {
	run -64 ka-drill --hosts 127.0.0.1 --rate 0
	assert_output --partial "invalid value '0' for --rate"
	run -64 ka-drill --hosts 127.0.0.1 --rate 1001
	run -64 ka-drill --hosts 127.0.0.1 --duration -1
	run -64 ka-drill --hosts 127.0.0.1 --duration 1.5
	run -64 ka-drill --hosts 127.0.0.1 --timeout 10
}

@test "exits 64 on a database name that is not a plain identifier" {
	run -64 ka-drill --hosts 127.0.0.1 --database 'x`; DROP TABLE y'
	assert_output --partial "invalid value"
	assert_output --partial "for --database"
}

@test "exits 64 on more than eight endpoints" {
	run -64 ka-drill --hosts 127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,127.0.0.1:8,127.0.0.1:9
	assert_output --partial "too many endpoints"
}

@test "exits 78 when the option file is missing or readable by others" {
	run -78 ka-drill --hosts "$DOWN" --defaults-file "$UNIT_TMP/none.cnf"
	assert_output --partial "$UNIT_TMP/none.cnf"
	run -78 ka-drill --hosts "$DOWN" --defaults-file "$UNIT_TMP/open.cnf"
}

@test "exits 2 naming every endpoint when none is reachable" {
	timed run -2 ka-drill --hosts "$DOWN" --defaults-file "$UNIT_TMP/good.cnf" --duration 1 \
		--failover-timeout 500
	assert_output --partial "FAIL no endpoint reachable"
	assert_output --partial "cannot connect to '127.0.0.1:23448'"
	assert_output --partial "cannot connect to '127.0.0.1:23449'"
	[ "$TIMED_MS" -lt 5000 ]
}

@test "retries a refused endpoint about every 25 ms within the failover budget, never in a busy loop" {
	run -2 ka-drill --hosts 127.0.0.1:23448 --failover-timeout 1000
	local n ms
	n=$(sed -n 's/.*no usable endpoint after \([0-9]*\) attempt(s) in \([0-9]*\) ms.*/\1/p' <<<"$output" | head -1)
	ms=$(sed -n 's/.*no usable endpoint after \([0-9]*\) attempt(s) in \([0-9]*\) ms.*/\2/p' <<<"$output" | head -1)
	echo "$n attempts in $ms ms"
	# passes begin 25 ms apart at the closest: at most 1000 / 25 + 1; a loaded machine
	# sleeps longer, so the lower bound is wide
	[ "$ms" -ge 900 ] && [ "$n" -ge 5 ] && [ "$n" -le 41 ]
	run -2 ka-drill --hosts 127.0.0.1:23448 --failover-timeout 1000 --retry-interval 200
	n=$(sed -n 's/.*no usable endpoint after \([0-9]*\) attempt(s).*/\1/p' <<<"$output" | head -1)
	[ "$n" -ge 2 ] && [ "$n" -le 6 ]
}

@test "exits 64 on a retry interval or retry timeout out of range" {
	run -64 ka-drill --hosts 127.0.0.1 --retry-interval 4
	assert_output --partial "invalid value '4' for --retry-interval"
	run -64 ka-drill --hosts 127.0.0.1 --retry-interval 10001
	run -64 ka-drill --hosts 127.0.0.1 --retry-timeout 49
	assert_output --partial "for --retry-timeout"
}

@test "--hung-probe-ms takes 0 (off) or 50 to 60000 ms and refuses anything else" {
	local v
	for v in 1 49 60001 -1 x 2.5 ""; do
		run -64 ka-drill --hosts 127.0.0.1 --hung-probe-ms "$v"
		assert_output --partial "invalid value '$v' for --hung-probe-ms: expected 0 (off) or an integer from 50 to 60000"
	done
	for v in 0 50 60000; do
		run -2 ka-drill --hosts "$DOWN" --failover-timeout 100 --hung-probe-ms "$v"
		assert_output --partial "FAIL no endpoint reachable"
	done
	# usage and the man page name it
	run -0 ka-drill --help
	assert_output --partial "[--hung-probe-ms MS]"
	grep -q '^\.BR --hung-probe-ms " MS"$' "$KA_REPO/client/ka-drill.8"
}

@test "--json still prints one object with the stable keys when nothing was reachable" {
	run --separate-stderr -2 ka-drill --hosts "$DOWN" --failover-timeout 300 --json
	local k
	for k in attempted acknowledged lost duplicated ambiguous longest_outage_ms \
		outage_start_ms outage_end_ms phases switches nodes errors not_caught_up \
		ambiguous_unfenced resolution_restarts replication; do
		jq -e "has(\"$k\")" <<<"$output" >/dev/null || { echo "missing key $k"; return 1; }
	done
	[ "$(jq -r .code_name <<<"$output")" = unreachable ]
	[ "$(jq -r .replication <<<"$output")" = not-checked ]
	[ "$(jq -r .attempted <<<"$output")" = 0 ]
}

@test "exits 3 when the only endpoint accepts TCP but never answers" {
	start_silent_listener 23447
	timed run -3 ka-drill --hosts 127.0.0.1:23447 --timeout 300 --failover-timeout 1000
	assert_output --partial "timed out"
	[ "$TIMED_MS" -lt 5000 ]
}

@test "SIGINT while it waits for an endpoint ends it promptly with a report" {
	start_silent_listener 23446
	ka-drill --hosts 127.0.0.1:23446 --timeout 1000 --failover-timeout 60000 \
		> "$UNIT_TMP/int.out" 2>&1 3>&- &
	local pid=$!
	sleep 0.5
	kill -INT "$pid"
	local rc=0
	timed wait "$pid" || rc=$?
	cat "$UNIT_TMP/int.out"
	[ "$rc" = 3 ]
	grep -q "cancelled" "$UNIT_TMP/int.out"
	[ "$TIMED_MS" -lt 4000 ]
}

@test "--list-exit-codes prints the suite's table and the man page names each code" {
	run -0 ka-drill --list-exit-codes
	assert_line --index 0 --regexp $'^0\tok\t'
	assert_line --regexp $'^64\tusage\t'
	local code name
	while IFS=$'\t' read -r code name _; do
		grep -qE "^\.B $code $name\$" "$KA_REPO/client/ka-drill.8"
	done <<< "$output"
}

@test "the README's example program compiles as documented and fails clearly when both servers are down" {
	local cmd
	cmd=$(sed -n '/^<!-- example-build -->/,/^```$/p' "$KA_REPO/README.md" |
		sed -n '/^cc /,/^```$/p' | sed '/^```$/d' | tr -d '\\\n')
	[ -n "$cmd" ]
	cd "$KA_REPO"
	[[ "$cmd" == *"-o failover-example "* ]]
	eval "${cmd/-o failover-example /-o $UNIT_TMP/failover-example }"
	run -1 "$UNIT_TMP/failover-example" "$DOWN" "$UNIT_TMP/good.cnf"
	assert_output --partial "no usable endpoint"
	run -64 "$UNIT_TMP/failover-example"
}
