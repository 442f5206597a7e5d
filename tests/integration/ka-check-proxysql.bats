#!/usr/bin/env bats
# ka-check-proxysql against a STAND-IN for ProxySQL, not ProxySQL (which Debian does not
# ship): real mariadbd servers holding ProxySQL's admin table shapes in a database `main`
# (tests/helpers/proxysql.bash). Server "node" is this node's admin interface, "peer"
# the other ProxySQL's admin interface, "traffic" stands in for the traffic port 6033.

bats_require_minimum_version 1.5.0

load '../helpers/common'
load '../helpers/mariadb'
load '../helpers/proxysql'

ADMIN_PORT=23350
TRAFFIC_PORT=23351
PEER_PORT=23352
DEAD_PORT=23399   # nothing listens here

setup_file() {
	mdb_init
	psql_start node "$ADMIN_PORT" 5101
	psql_start peer "$PEER_PORT" 5102
	mdb_start traffic "$TRAFFIC_PORT" 5103
	psql_admin_cnf "$KA_TEST_ROOT/admin.cnf"
	psql_admin_cnf "$KA_TEST_ROOT/front.cnf"
	psql_frontend_cnf "$KA_TEST_ROOT/front.cnf" app "$KA_DB_PASS_APP"
	psql_admin_cnf "$KA_TEST_ROOT/badfront.cnf"
	psql_frontend_cnf "$KA_TEST_ROOT/badfront.cnf" app wrongpw
}

teardown_file() {
	mdb_stop_all
}

# Every test starts from a healthy pair: one ONLINE writer in hostgroup 10, two ONLINE
# readers in hostgroup 20, both nodes listed in proxysql_servers, equal checksums.
setup() {
	local pair="INSERT INTO runtime_proxysql_servers (hostname, port) VALUES
		('127.0.0.1', $ADMIN_PORT), ('127.0.0.1', $PEER_PORT);
		INSERT INTO proxysql_servers SELECT * FROM runtime_proxysql_servers;"
	psql_reset node
	psql_reset peer
	psql_sql node "$pair
		INSERT INTO runtime_mysql_servers (hostgroup_id, hostname, port, status) VALUES
		(10, '192.0.2.11', 3306, 'ONLINE'), (20, '192.0.2.11', 3306, 'ONLINE'),
		(20, '192.0.2.12', 3306, 'ONLINE');
		INSERT INTO runtime_mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup)
		VALUES (10, 20)"
	psql_sql peer "$pair"
}

# A stopped server must never outlive a failed test.
teardown() {
	local n pid
	for n in node peer traffic; do
		pid=$(mdb_pid "$n")
		[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
	done
	return 0
}

check() {
	ka-check-proxysql --defaults-file "$KA_TEST_ROOT/admin.cnf" --port "$ADMIN_PORT" "$@"
}

@test "exits 0 and says healthy when the admin interface answers" {
	run -0 check
	assert_output --regexp '^OK healthy \| code=0 admin=127\.0\.0\.1:23350 version=10\.'
}

@test "exits 0 with one ONLINE writer and enough ONLINE readers" {
	run -0 check --writer-hostgroup 10 --single-writer --reader-hostgroup 20 --min-readers 2
	assert_output --partial 'writers_online=1 readers_online=2'
}

@test "exits 1 when the writer hostgroup has no server" {
	psql_clear_servers node 10
	run -1 check --writer-hostgroup 10
	assert_output --partial 'FAIL no server in writer hostgroup 10'
}

@test "exits 1 naming the writer when the only writer is SHUNNED" {
	psql_sql node "UPDATE runtime_mysql_servers SET status='SHUNNED' WHERE hostgroup_id=10"
	run -1 check --writer-hostgroup 10
	assert_output --partial 'no ONLINE server in writer hostgroup 10 (192.0.2.11:3306 SHUNNED)'
}

@test "exits 1 naming the writer when the only writer is OFFLINE_SOFT" {
	psql_sql node "UPDATE runtime_mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=10"
	run -1 check --writer-hostgroup 10
	assert_output --partial '(192.0.2.11:3306 OFFLINE_SOFT)'
}

@test "exits 0 when one of two writers is ONLINE and the other SHUNNED" {
	psql_server node 10 192.0.2.12 3306 SHUNNED
	run -0 check --writer-hostgroup 10 --single-writer
	assert_output --partial 'writers_online=1'
}

@test "accepts two ONLINE writers when --single-writer is not given" {
	psql_server node 10 192.0.2.12 3306 ONLINE
	run -0 check --writer-hostgroup 10
	assert_output --partial 'writers_online=2'
}

@test "exits 1 naming both writers when two are ONLINE and --single-writer is given" {
	psql_server node 10 192.0.2.12 3306 ONLINE
	run -1 check --writer-hostgroup 10 --single-writer
	assert_output --partial 'split brain: 2 ONLINE writers in hostgroup 10: 192.0.2.11:3306, 192.0.2.12:3306'
}

@test "exits 1 when fewer readers than --min-readers are ONLINE" {
	psql_sql node "UPDATE runtime_mysql_servers SET status='SHUNNED'
		WHERE hostgroup_id=20 AND hostname='192.0.2.12'"
	run -1 check --reader-hostgroup 20 --min-readers 2
	assert_output --partial '1 ONLINE server in reader hostgroup 20, below --min-readers 2 (192.0.2.12:3306 SHUNNED)'
}

@test "needs one ONLINE reader when --min-readers is not given" {
	psql_sql node "UPDATE runtime_mysql_servers SET status='OFFLINE_HARD' WHERE hostgroup_id=20"
	run -1 check --reader-hostgroup 20
	assert_output --partial '0 ONLINE servers in reader hostgroup 20, below --min-readers 1'
}

@test "exits 2 when nothing listens on the admin port" {
	run -2 ka-check-proxysql --defaults-file "$KA_TEST_ROOT/admin.cnf" --port "$DEAD_PORT"
	assert_output --partial "cannot connect to '127.0.0.1:$DEAD_PORT'"
}

@test "exits 3 within bounds when the admin interface is hung (SIGSTOP)" {
	kill -STOP "$(mdb_pid node)"
	timed run -3 check --timeout 300 --writer-hostgroup 10
	kill -CONT "$(mdb_pid node)"
	assert_output --partial 'timed out'
	[ "$TIMED_MS" -lt 2000 ]
}

@test "exits 4 when the admin password is wrong" {
	psql_admin_cnf "$BATS_TEST_TMPDIR/wrong.cnf" radmin wrongpw
	run -4 ka-check-proxysql --defaults-file "$BATS_TEST_TMPDIR/wrong.cnf" --port "$ADMIN_PORT"
	assert_output --partial 'Access denied'
}

@test "exits 1, not 4, when a query on a live admin interface answers 1045" {
	psql_break_table node runtime_mysql_servers
	run -1 check --writer-hostgroup 10
	assert_output --partial 'no such table: runtime_mysql_servers (1045)'
}

@test "reads the admin address from the option file's [ka-check-proxysql] group" {
	cp "$KA_TEST_ROOT/admin.cnf" "$BATS_TEST_TMPDIR/addr.cnf"
	printf '[ka-check-proxysql]\nhost=127.0.0.1\nport=%s\n' "$ADMIN_PORT" >> "$BATS_TEST_TMPDIR/addr.cnf"
	run -0 ka-check-proxysql --defaults-file "$BATS_TEST_TMPDIR/addr.cnf"
	assert_output --partial "admin=127.0.0.1:$ADMIN_PORT"
}

@test "exits 0 when a login and a query through --frontend reach a backend" {
	run -0 ka-check-proxysql --defaults-file "$KA_TEST_ROOT/front.cnf" --port "$ADMIN_PORT" \
		--frontend "127.0.0.1:$TRAFFIC_PORT"
	assert_output --regexp "backend=[^ ]+:$TRAFFIC_PORT "
}

@test "exits 4 naming the frontend when the frontend refuses the login" {
	run --separate-stderr -4 ka-check-proxysql --defaults-file "$KA_TEST_ROOT/badfront.cnf" --port "$ADMIN_PORT" \
		--frontend "127.0.0.1:$TRAFFIC_PORT" --json
	[ "$(jq -r .failed <<<"$output")" = frontend ]
	[ "$(jq -r .code_name <<<"$output")" = access-denied ]
	jq -r .reason <<<"$output" | grep -q "frontend 127.0.0.1:$TRAFFIC_PORT as 'app': cannot connect.*Access denied"
}

@test "exits 2 when nothing listens on the frontend port" {
	run -2 ka-check-proxysql --defaults-file "$KA_TEST_ROOT/front.cnf" --port "$ADMIN_PORT" \
		--frontend "127.0.0.1:$DEAD_PORT"
	assert_output --partial "FAIL frontend 127.0.0.1:$DEAD_PORT"
}

@test "exits 3 within bounds when the traffic port is hung (SIGSTOP)" {
	kill -STOP "$(mdb_pid traffic)"
	timed run -3 ka-check-proxysql --defaults-file "$KA_TEST_ROOT/front.cnf" --port "$ADMIN_PORT" \
		--frontend "127.0.0.1:$TRAFFIC_PORT" --timeout 300
	kill -CONT "$(mdb_pid traffic)"
	assert_output --partial 'FAIL frontend'
	[ "$TIMED_MS" -lt 2000 ]
}

@test "exits 0 with --cluster when the peer holds the same checksums" {
	run -0 check --cluster --json
	[ "$(jq -r '.peers[] | "\(.port) \(.state)"' <<<"$output" | tr '\n' ' ')" = \
		"$ADMIN_PORT self $PEER_PORT in-sync " ]
}

@test "exits 1 with --cluster naming the module whose checksum differs on the peer" {
	psql_set_checksum peer mysql_query_rules 0x5EED0000DEADBEEF
	run -1 check --cluster
	assert_output --partial "FAIL cluster peer 127.0.0.1:$PEER_PORT differs in mysql_query_rules |"
}

@test "exits 1 with --cluster when a peer is unreachable" {
	psql_peer node 127.0.0.1 "$DEAD_PORT"
	run -1 check --cluster
	assert_output --partial "cluster peer 127.0.0.1:$DEAD_PORT not verified (unreachable)"
}

@test "exits 1 with --cluster when no peer is listed" {
	psql_sql node "DELETE FROM runtime_proxysql_servers"
	run -1 check --cluster
	assert_output --partial 'no peer in runtime_proxysql_servers'
}

@test "--json prints one object that jq parses, with the servers per hostgroup" {
	run -0 check --json --writer-hostgroup 10 --reader-hostgroup 20
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .status <<<"$output")" = OK ]
	[ "$(jq -r .failed <<<"$output")" = null ]
	[ "$(jq -r .writers_online <<<"$output")" = 1 ]
	[ "$(jq -r .readers_online <<<"$output")" = 2 ]
	[ "$(jq -r '[.servers[] | select(.hostgroup == 20)] | length' <<<"$output")" = 2 ]
	[ "$(jq -r '.servers[0].status' <<<"$output")" = ONLINE ]
}

@test "--json names the failed check and carries the checksums under --cluster" {
	psql_set_checksum peer mysql_users 0x1111111111111111
	run --separate-stderr -1 check --json --cluster
	[ "$(jq -r .failed <<<"$output")" = cluster ]
	[ "$(jq -r .checksums.mysql_users <<<"$output")" = 0x0000000000000004 ]
	[ "$(jq -r ".peers[] | select(.port == $PEER_PORT) | .detail" <<<"$output")" = mysql_users ]
}

@test "--verbose reports version, servers per hostgroup and checksums on stderr" {
	run --separate-stderr -0 check --verbose --timeout 3000
	[[ "$stderr" == *"report for admin interface '127.0.0.1:$ADMIN_PORT'"* ]]
	[[ "$stderr" == *"hostgroup 20       192.0.2.11:3306 ONLINE, 192.0.2.12:3306 ONLINE"* ]]
	[[ "$stderr" == *"writer 10 reader 20 check_type read_only"* ]]
	[[ "$stderr" == *"mysql_servers        version 1 epoch 1795272425 checksum 0x0000000000000003"* ]]
	[ "${#lines[@]}" -eq 1 ]
}

@test "exits 78 when --frontend is given and the option file has no frontend group" {
	run -78 check --frontend "127.0.0.1:$TRAFFIC_PORT"
	assert_output --partial 'has no [ka-proxysql-frontend] group'
}

@test "three copies at once all succeed (no shared lock)" {
	local i pids=() rc=0
	for i in 1 2 3; do
		check --writer-hostgroup 10 >/dev/null 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=$?
	done
	[ "$rc" -eq 0 ]
}
