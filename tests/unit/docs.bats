#!/usr/bin/env bats
# The documentation and the binaries agree: one exit-code table (lib/exitcode.c, printed by
# --list-exit-codes) in README.md, in every man page and in every binary; each man page's
# SYNOPSIS is its binary's usage() word for word.

setup() {
	load ../helpers/common
	REF=$(ka-check-mariadb --list-exit-codes)
}

binaries() {
	local b
	for b in ka-check-mariadb ka-check-proxysql ka-notify-mariadb ka-drill ka-watch-mariadb ka-status; do
		[ -x "$KA_BIN/$b" ] && echo "$b"
	done
	return 0
}

man_page() {
	ls "$KA_REPO"/{check,notify,client}/"$1".8 2>/dev/null | head -1
}

@test "every binary prints the same exit-code table" {
	local b
	for b in $(binaries); do
		run -0 "$b" --list-exit-codes
		[ "$output" = "$REF" ] || { echo "$b differs"; return 1; }
	done
}

@test "the README's exit-code table matches the binaries' table row for row" {
	local code name meaning
	while IFS=$'\t' read -r code name meaning; do
		grep -qF "| $code | $name | $meaning |" "$KA_REPO/README.md" ||
			{ echo "README lacks: | $code | $name | $meaning |"; return 1; }
	done <<< "$REF"
	# and no extra rows
	[ "$(grep -cE '^\| [0-9]+ \| [a-z-]+ \| ' "$KA_REPO/README.md")" -eq "$(echo "$REF" | wc -l)" ]
}

@test "every man page lists every exit code with its name under EXIT STATUS" {
	local b page code name meaning
	for b in $(binaries); do
		page=$(man_page "$b")
		[ -n "$page" ] || { echo "no man page for $b"; return 1; }
		grep -q '^\.SH EXIT STATUS' "$page"
		while IFS=$'\t' read -r code name meaning; do
			grep -qE "^\.B $code $name\$" "$page" ||
				{ echo "$page lacks .B $code $name"; return 1; }
		done <<< "$REF"
	done
}

@test "every man page's SYNOPSIS is its binary's usage word for word" {
	local b page synopsis usage
	for b in $(binaries); do
		page=$(man_page "$b")
		synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$page" | grep '^\.B ' |
			sed 's/^\.B //; s/\\-/-/g' | tr -s ' \n' ' ' | sed 's/ *$//')
		usage=$("$b" --help | sed 's/^usage: //' | tr -s ' \n' ' ' | sed 's/ *$//')
		[ "$synopsis" = "$usage" ] || { echo "$b: man '$synopsis' vs usage '$usage'"; return 1; }
	done
}

@test "every man page renders without a roff warning (a line that starts with a quote is a request)" {
	local f out
	for f in "$KA_REPO"/{check,notify,client,debian}/*.8; do
		out=$(LC_ALL=C.UTF-8 man --warnings -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "$f: $out"; return 1; }
	done
}
