#!/usr/bin/env bats
# An installed node: keepalived started the way it starts on a node after `make install`
# and a reboot -- binaries from the install, the notify FIFO and the fault file in the
# directories the install's tmpfiles.d entry creates, nothing made by the lab. db2 is
# restarted that way (in a scratch root under the lab dir); first, the same keepalived
# with those directories missing shows what render now refuses.

load '../helpers/common'
load '../helpers/lab'

setup_file() {
	command -v systemd-tmpfiles >/dev/null || skip "needs systemd-tmpfiles"
	lab_setup_file
}

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

@test "with the fault file's and the FIFO's directories missing keepalived drops both (what render refuses)" {
	lab_ka_stop db2
	local d=$LAB_DIR/db2 gone=$LAB_DIR/db2/gone
	lab_settings_load
	lab_vars db2 > "$d/missing.vars"
	printf '%s\n' NOTIFY=fifo "NOTIFY_FIFO_PATH=$gone/run/notify.fifo" \
		"FAULT_FILE=$gone/lib/fault" >> "$d/missing.vars"
	run "$LAB_RENDER" --vars "$d/missing.vars" --netns ka-db2 --quiet keepalived-primary-replica
	assert_failure 78
	assert_output --partial "of FAULT_FILE does not exist"
	assert_output --partial "of NOTIFY_FIFO_PATH does not exist"
	"$LAB_RENDER" --vars "$d/missing.vars" --no-validate --quiet --out "$d/keepalived.conf" \
		keepalived-primary-replica
	mark=$(lab_ka_log_mark db2)
	lab_ka_start db2
	lab_wait_for 15 lab_ka_logged_since db2 "$mark" 'Entering BACKUP STATE'
	lab_ka_logged_since db2 "$mark" 'Track file directory for ka_fault does not exist - removing'
	lab_ka_logged_since db2 "$mark" 'Unable to create vrrp_notify fifo'
	lab_ka_stop db2
}

@test "an installed node (make install, a reboot's tmpfiles) starts keepalived with its fault file and FIFO" {
	lab_ka_stop db2
	run lab_install db2
	assert_success
	run lab_install_reboot db2
	assert_success
	r=$(lab_inst_root db2)
	[ -d "$r/run/ka-mariadb" ]
	lab_ka_config_installed db2
	mark=$(lab_ka_log_mark db2)
	lab_ka_start db2
	lab_wait_for 15 lab_ka_logged_since db2 "$mark" 'Entering BACKUP STATE'
	lab_wait_for 10 test -p "$r/run/ka-mariadb/notify.fifo"
	[ "$(cat "$r/var/lib/ka-mariadb/fault")" = 0 ]
	for bad in 'does not exist' 'Unable to create' 'disabling' 'Unsafe permissions' 'cannot be accessed'; do
		run lab_ka_logged_since db2 "$mark" "$bad"
		assert_failure
	done
	# The FIFO reader (the installed ka-notify-mariadb --fifo) saw the BACKUP event.
	lab_wait_for 10 grep -q '"event":"backup"' "$r/var/lib/ka-mariadb/journal.jsonl"
	touch "$BATS_FILE_TMPDIR/installed"
}

@test "the installed node's fault file forces FAULT, and its FIFO notify promotes it when db1's mysqld dies" {
	[ -e "$BATS_FILE_TMPDIR/installed" ] || skip "needs the installed node of the previous test"
	r=$(lab_inst_root db2)
	f=$r/var/lib/ka-mariadb/fault
	mark=$(lab_ka_log_mark db2)
	echo 1 > "$f.tmp" && mv -f "$f.tmp" "$f"
	lab_wait_for 10 lab_ka_logged_since db2 "$mark" 'Entering FAULT STATE'
	echo 0 > "$f.tmp" && mv -f "$f.tmp" "$f"
	lab_wait_for 10 lab_ka_logged_since db2 "$mark" 'Entering BACKUP STATE'
	lab_wait_vip_stays db1 2
	lab_db_kill db1
	lab_wait_vip db2 15
	lab_wait_read_only db2 0 20
	lab_wait_for 10 grep -q '"event":"master"' "$r/var/lib/ka-mariadb/journal.jsonl"
}
