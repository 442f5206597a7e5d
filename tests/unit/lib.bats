#!/usr/bin/env bats
# lib/ unit checks (GTID comparison, option files, addresses, JSON), compiled against
# the same objects as the binaries.

setup() {
	load ../helpers/common
}

@test "lib passes its unit checks: gtid comparison, option files, addresses, json" {
	run -0 "$KA_BIN/test-lib"
	refute_output --partial "not ok"
}
