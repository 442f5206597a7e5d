# Sealed environment for every tier: binaries from the build dir, own HOME/TMPDIR.
KA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KA_BIN=${KA_BIN:-$KA_REPO/build}
export PATH="$KA_BIN:$PATH"

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# Milliseconds of wall time of the last `timed` command in $TIMED_MS.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	"$@"
	local rc=$?
	t1=$(date +%s%N)
	TIMED_MS=$(((t1 - t0) / 1000000))
	return $rc
}

# Starts tests/helpers/silent-listener.py on 127.0.0.1:PORT (accepts, never answers: a hung
# server) and waits until it listens; LISTENER_PID for stop_silent_listener (teardown).
start_silent_listener() {
	local out="$BATS_TEST_TMPDIR/listener.$1.out"
	/usr/bin/python3 "$KA_REPO/tests/helpers/silent-listener.py" "$1" 20 > "$out" 3>&- &
	LISTENER_PID=$!
	for _ in $(seq 50); do
		grep -q ready "$out" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_silent_listener() {
	if [ -n "${LISTENER_PID:-}" ]; then
		kill "$LISTENER_PID" 2>/dev/null
		wait "$LISTENER_PID" 2>/dev/null
	fi
	LISTENER_PID=
	return 0
}
