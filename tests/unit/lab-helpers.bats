#!/usr/bin/env bats
# The lab's judgement of ka-drill reports (tests/helpers/lab.bash), which every lab test,
# bench/failover and the demo use: only a verified round counts, and lost 0 alone (or a
# missing "lost" read as 0) proves nothing. No lab needed: the functions read JSON.

load '../helpers/common'
load '../helpers/lab'

# A clean, verified report; "$@" are jq assignments that spoil it.
report() {
	local base='{"status":"OK","code":0,"code_name":"ok","verified":true,"attempted":500,
		"acknowledged":500,"lost":0,"duplicated":0,"ambiguous":1,"longest_outage_ms":900,
		"max_write_ms":20,"switches":[{"down_ms":1200}],"phases":[]}' f
	for f in "$@"; do base=$(jq -c "$f" <<<"$base"); done
	jq -c . <<<"$base"
}

@test "a verified report with nothing lost is a clean round" {
	run lab_drill_problem "$(report)"
	assert_success
	assert_output ""
	run lab_drill_verified "$(report)"
	assert_success
}

@test "the issue's unreachable-primary report (status FAIL, verified false, lost 0) is refused" {
	json='{"status":"FAIL","code_name":"unreachable","acknowledged":100,"lost":0,"verified":false}'
	run lab_drill_verified "$json"
	assert_failure
	assert_output --partial "status FAIL (unreachable"
}

@test "status OK but not verified is refused" {
	run lab_drill_problem "$(report '.verified = false')"
	assert_output --partial "not verified"
}

@test "a missing or null lost count is refused, never read as 0" {
	run lab_drill_problem "$(report 'del(.lost)')"
	assert_output --partial "a count is missing or not a number"
	run lab_drill_problem "$(report '.lost = null')"
	assert_output --partial "lost null"
}

@test "lost, duplicated or no acknowledged write is refused" {
	run lab_drill_problem "$(report '.lost = 2')"
	assert_output "2 acknowledged write(s) lost"
	run lab_drill_problem "$(report '.duplicated = 1')"
	assert_output "1 write(s) duplicated"
	run lab_drill_problem "$(report '.acknowledged = 0')"
	assert_output "no write acknowledged"
}

@test "an empty or non-JSON report is refused" {
	run lab_drill_problem ""
	assert_output "no report"
	run lab_drill_problem "drill: killed"
	assert_output "not JSON"
	run lab_drill_problem "$(report) $(report)"
	assert_output "not one JSON object"
}

@test "the write outage counts a stall without an error (max_write_ms)" {
	run lab_drill_outage_ms "$(report '.max_write_ms = 4200')"
	assert_output 4200
	run lab_drill_outage_ms "$(report)"
	assert_output 1200
}

@test "bench/failover's row for a round needs a verified report" {
	run lab_bench_row "$(report)" 1010 990
	assert_success
	assert_output "1010 1200 0 0 990 500"
	run lab_bench_row "$(report '.status = "FAIL" | .verified = false')" 1010 990
	assert_failure
	refute_output --regexp '^[0-9]'
}

@test "table checksums are never equal when a query failed or found no table" {
	lab_sql() { return 1; }
	run lab_checksums_equal db1 db2
	assert_failure
	lab_sql() { [[ $2 == SELECT* ]] && echo NULL; }
	run lab_checksums_equal db1 db2
	assert_failure
	lab_sql() { if [[ $2 == SELECT* ]]; then echo ka_lab.writes; else printf 'ka_lab.writes\tNULL\n'; fi; }
	run lab_checksums_equal db1 db2
	assert_failure
	lab_sql() { if [[ $2 == SELECT* ]]; then echo ka_lab.writes; else printf 'ka_lab.writes\t42\n'; fi; }
	run lab_checksums_equal db1 db2
	assert_success
}

@test "LAB_PROFILE=fast defaults to VRRPv3 at 0.1 s and renders the watcher's settings; stock stays VRRPv2 at 1 s" {
	(
		unset LAB_VRRP_VERSION LAB_ADVERT_INT
		LAB_PROFILE=fast
		lab_settings_load
		[ "$LAB_VRRP_VERSION $LAB_ADVERT_INT" = "3 0.1" ]
		lab_vars db1 | grep -qx 'PROFILE=fast'
		lab_vars db1 | grep -qx "WATCH_FILE=$LAB_DIR/db1/watch"
	)
	(
		unset LAB_VRRP_VERSION LAB_ADVERT_INT LAB_PROFILE
		lab_settings_load
		[ "$LAB_PROFILE $LAB_VRRP_VERSION $LAB_ADVERT_INT" = "stock 2 1" ]
	)
}

@test "bench/failover refuses an unknown profile or fault, or none, with exit 64 before touching a lab" {
	run "$KA_REPO/bench/failover" -n 1 --profiles stock,turbo
	assert_failure 64
	assert_output --partial "unknown profile 'turbo'"
	run "$KA_REPO/bench/failover" -n 1 --faults kill,flood
	assert_failure 64
	assert_output --partial "unknown fault 'flood'"
	run "$KA_REPO/bench/failover" -n 1 --faults ""
	assert_failure 64
}

@test "a pair's nodes are db1 db2; LAB_NODES=3 adds db3, and the running lab's recorded setting wins" {
	LAB_DIR=$BATS_TEST_TMPDIR/lab
	(
		unset LAB_NODES
		[ "$(lab_nodes)" = "db1 db2" ]
		[ "$(lab_peers db1)" = db2 ]
		LAB_NODES=3
		[ "$(lab_nodes)" = "db1 db2 db3" ]
		[ "$(lab_peers db2)" = "db1 db3" ]
		[ "$(lab_peers db3)" = "db1 db2" ]
		mkdir -p "$LAB_DIR"
		printf '%s\n' LAB_NODES=2 LAB_MODE=primary-replica > "$LAB_DIR/settings"
		[ "$(lab_nodes)" = "db1 db2" ]
	)
}

@test "priorities are 100, 90, 80 and peer lists are the other nodes' real addresses" {
	[ "$(lab_priority db1) $(lab_priority db2) $(lab_priority db3)" = "100 90 80" ]
	[ "$(lab_ip_list db1 db3)" = "192.0.2.11,192.0.2.13" ]
	[ "$(lab_ip_list db2)" = 192.0.2.12 ]
}

@test "LAB_NODES=3 gives every node the other two as PEER_IP and db3 CANDIDATE_RANK 2; a pair's values stay those of a pair" {
	LAB_DIR=$BATS_TEST_TMPDIR/lab
	(
		unset LAB_NODES
		lab_settings_load
		run lab_vars db2
		assert_line PEER_IP=192.0.2.11
		refute_line --partial CANDIDATE_RANK
		[ "$(grep -c '^$' <<<"$output")" = 0 ]
		LAB_NODES=3
		run lab_vars db1
		assert_line ROLE=master
		assert_line PEER_IP=192.0.2.12,192.0.2.13
		refute_line --partial CANDIDATE_RANK
		run lab_vars db3
		assert_line ROLE=backup
		assert_line CANDIDATE_RANK=2
		assert_line PEER_IP=192.0.2.11,192.0.2.12
		assert_line NODE_IP=192.0.2.13
	)
}

@test "three nodes need primary-replica mode, and only 2 or 3 nodes make a lab" {
	(
		LAB_NODES=3 LAB_MODE=master-master
		run lab_settings_problem
		assert_output --partial "LAB_NODES=3 needs LAB_MODE=primary-replica"
		LAB_NODES=4 LAB_MODE=primary-replica
		run lab_settings_problem
		assert_output --partial "LAB_NODES must be 2 or 3, not '4'"
		LAB_NODES=3
		run lab_settings_problem
		assert_output ""
	)
}

@test "a journal step's end is the run's start plus the steps' durations up to its last match" {
	line='{"time":"2024-05-01T10:00:10.000Z","event":"master","elapsed_ms":1000,"steps":[
		{"step":"connect local","duration_ms":100,"result":"ok"},
		{"step":"catch up from peer 192.0.2.13:3306","duration_ms":300,"result":"ok"},
		{"step":"SET GLOBAL read_only=0 on local","duration_ms":50,"result":"ok"},
		{"step":"leave out peer 192.0.2.14:3306","duration_ms":0,"result":"skipped"},
		{"step":"repoint peer 192.0.2.11:3306","duration_ms":200,"result":"ok"},
		{"step":"repoint peer 192.0.2.12:3306","duration_ms":100,"result":"ok"}]}'
	start=$(lab_iso_ms 2024-05-01T10:00:09.000Z)
	run lab_step_end_ms "$line" 'read_only=0'
	assert_output $((start + 450))
	run lab_step_end_ms "$line" '^catch up from peer 192\.0\.2\.13'
	assert_output $((start + 400))
	run lab_step_end_ms "$line" '^repoint '
	assert_output $((start + 750))
	run lab_step_end_ms "$line" 'no such step'
	assert_failure
	run lab_steps "$line" ok '^repoint'
	assert_output $'repoint peer 192.0.2.11:3306\nrepoint peer 192.0.2.12:3306'
	run lab_steps "$line" skipped '^leave out'
	assert_output "leave out peer 192.0.2.14:3306"
}

@test "bench/failover refuses a node count other than 2 or 3 with exit 64 before touching a lab" {
	run "$KA_REPO/bench/failover" -n 1 --nodes 2,4
	assert_failure 64
	assert_output --partial "unknown node count '4'"
	run "$KA_REPO/bench/failover" -n 1 --nodes ""
	assert_failure 64
}
