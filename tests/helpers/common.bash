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
