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

@test "the json writer's output always parses with jq and round-trips valid utf-8" {
	local i f="$BATS_TEST_TMPDIR/in" got
	for ((i = 0; i < 200; i++)); do
		# Random valid UTF-8 without NUL (C strings): controls, quotes, backslashes,
		# 2-, 3- and 4-byte characters.
		python3 -c 'import random,sys
pool = [(1, 0x7f), (0x80, 0x7ff), (0x800, 0xd7ff), (0xe000, 0xffff), (0x10000, 0x10ffff)]
s = "".join(chr(random.randint(*random.choice(pool))) for _ in range(random.randint(1, 200)))
sys.stdout.buffer.write((s + random.choice(["", "\"", "\\", "\n"])).encode())' > "$f"
		got=$("$KA_BIN/test-lib" json-echo < "$f" | jq -j '.s') || {
			echo "jq rejected the output for input $(od -An -tx1 "$f" | head -3)"
			return 1
		}
		[ "$got" = "$(cat "$f")" ] || { echo "no round trip: $(od -An -tx1 "$f" | head -3)"; return 1; }
	done
}

@test "the json writer turns invalid utf-8 into U+FFFD and still writes valid json" {
	run -0 bash -c "printf 'a\xffb\xc0\xafc\xed\xa0\x80d' | '$KA_BIN/test-lib' json-echo | jq -j .s"
	[ "$output" = $'a\uFFFDb\uFFFD\uFFFDc\uFFFD\uFFFD\uFFFDd' ]
}
