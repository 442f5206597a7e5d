#!/usr/bin/env bats
# Scenario 11: the fast profile (LAB_PROFILE=fast: VRRPv3, advert_int 0.1 s, ka-watch-mariadb
# writing keepalived's track_file in each db namespace, the 1 s vrrp_script kept as the
# backstop). Each test on a fresh lab with db1 as primary and a verified ka-drill through
# the VIP: mysqld SIGKILL, mysqld SIGSTOP, host death (links down, keepalived, watcher and
# mysqld killed), a SIGKILLed watcher (the vrrp_script still fails over), and a silent
# partition (links up, every frame dropped) that the watcher's --witness turns into FAULT.
# Times are printed, not asserted beyond wide margins: bench/failover measures them.

load '../helpers/common'
load '../helpers/lab'

setup_file() {
	local why
	why=$(lab_missing)
	[ -z "$why" ] || skip "$why"
	export LAB_PROFILE=fast
}

setup() { lab_up || { lab_diagnose; lab_down; return 1; }; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || { lab_diagnose; tail -5 "$LAB_DIR"/db1/watcher.log >&2; }
	lab_kill CONT "$(lab_db_pid db1)" || true
	lab_down
}

# What put db1's keepalived into FAULT first after log line $1: "watcher" (the track
# file), "script" (chk_mysqld, the backstop) or "none".
first_fault_cause() {
	tail -n "+$(($1 + 1))" "$LAB_DIR/db1/keepalived.log" |
		grep -m1 -o 'tracked file ka_watch now FAULT\|VRRP_Script(chk_mysqld) failed' |
		sed 's/^tracked.*/watcher/; s/^VRRP_Script.*/script/' | grep . || echo none
}

# Starts a drill, lets it run $1 s, applies fault $2 to db1; waits for the VIP on db2
# (and db2 writable); prints the ms until the VIP moved to fd 3 and sets T_VIP.
fault_and_failover() {
	local warm=$1 fault=$2 t0
	lab_drill_start 50 "$3"
	sleep "$warm"
	t0=$(lab_now_ms)
	$fault
	lab_log "db1: $fault"
	lab_wait_for 20 lab_has_vip db2
	T_VIP=$(($(lab_now_ms) - t0))
	lab_wait_read_only db2 0 20
	echo "# $fault: VIP on db2 after ${T_VIP} ms" >&3
}

# The drill's report: verified, nothing lost, the last writes on db2.
drill_clean_on_db2() {
	local json
	json=$(lab_drill_wait 60)
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	[ "$(lab_drill_last_server_id "$json")" = 12 ]
	DRILL_JSON=$json
}

kill_mysqld() { lab_db_kill db1; }
hang_mysqld() { lab_db_stop_signal db1 STOP; }
host_death() {
	lab_link db1 down
	lab_ka_kill db1
	lab_watcher_kill db1
	lab_db_kill db1
}

@test "fast: mysqld SIGKILL on the primary -- the watcher's track file moves the VIP, no acknowledged write lost" {
	mark=$(lab_ka_log_mark db1)
	fault_and_failover 4 kill_mysqld 15
	[ "$(first_fault_cause "$mark")" = watcher ]
	[ "$(lab_watcher_value db1)" = 2 ]
	[ "$T_VIP" -lt 5000 ]
	drill_clean_on_db2
	[ "$(lab_writable)" = db2 ]
}

@test "fast: mysqld SIGSTOP on the primary -- the watcher's probe deadline moves the VIP; after SIGCONT db1 stays out" {
	mark=$(lab_ka_log_mark db1)
	fault_and_failover 4 hang_mysqld 20
	[ "$(first_fault_cause "$mark")" = watcher ]
	[ "$T_VIP" -lt 5000 ]
	sleep 2
	lab_db_stop_signal db1 CONT
	lab_log "mysqld on db1 continued (SIGCONT)"
	lab_vip_never_on db1 8000
	drill_clean_on_db2
	lab_wait_read_only db1 1 30
	[ "$(lab_writable)" = db2 ]
}

@test "fast: host death of the primary (links down, keepalived, watcher and mysqld killed) -- db2 takes over on the advert timeout" {
	fault_and_failover 4 host_death 15
	[ "$T_VIP" -lt 5000 ]
	drill_clean_on_db2
	[ "$(lab_vip_holder)" = db2 ]
}

@test "fast: a SIGKILLed watcher leaves the node fit, and a later mysqld failure still fails over through the 1 s vrrp_script" {
	lab_watcher_kill db1
	[ "$(lab_watcher_value db1)" = 0 ]
	# The dead watcher's last value (0) stands: the VIP stays on db1.
	run lab_wait_vip_stays db1 3
	assert_success
	mark=$(lab_ka_log_mark db1)
	fault_and_failover 3 kill_mysqld 15
	[ "$(first_fault_cause "$mark")" = script ]
	run lab_ka_logged_since db1 "$mark" 'tracked file ka_watch now FAULT'
	assert_failure
	# Within the stock timers (timing line: the backstop's worst case), with a wide margin.
	grep -q 'backstop with the watcher dead: mysqld failure -> within' "$LAB_DIR/db1/timing.txt"
	[ "$T_VIP" -lt 8000 ]
	drill_clean_on_db2
	[ "$(lab_writable)" = db2 ]
}

@test "fast: silent partition of db1 (links up, all frames dropped) -- the watcher's --witness steps db1 down, no split brain after the heal" {
	grep -q -- "--witness ${LAB_IP[witness]}:$LAB_WITNESS_PORT" <(ps -o args= -p "$(lab_watcher_pid db1)")
	grep -q -- "--peer ${LAB_IP[db2]}:3306" <(ps -o args= -p "$(lab_watcher_pid db1)")
	mark=$(lab_ka_log_mark db1)
	fault_and_failover 4 cut_silent 40
	lab_wait_for 20 lab_vip_not_on db1
	lab_wait_for 10 grep -q '^track=10 ' "$LAB_DIR/db1/watcher.log"
	lab_wait_read_only db1 1 20
	echo "# db1 gave up: first cause $(first_fault_cause "$mark"), watcher $(lab_watcher_value db1)" >&3
	sleep 6
	lab_heal db1
	lab_log "db1 healed"
	lab_vip_never_on db1 12000
	[ "$(lab_vip_holder)" = db2 ]
	[ "$(lab_writable)" = db2 ]
	drill_clean_on_db2
	outcome=$(lab_rejoined_or_refused "$(lab_json "$DRILL_JSON" .ambiguous)")
	echo "# after the heal db1 $outcome" >&3
	[ "$(lab_writable)" = db2 ]
	[ "$(lab_vip_holder)" = db2 ]
}

cut_silent() { lab_isolate db1; }
