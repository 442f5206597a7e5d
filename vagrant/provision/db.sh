#!/bin/bash
# db.sh: provisions one MariaDB node of the pair on a Debian 12 VM. Vagrant runs it as root
# with the node's values as KEY=VALUE arguments (the Vagrantfile's db_vars).
#
# The steps are the namespace lab's bring-up (tests/helpers/lab.bash, lab_up) on a real
# machine, with the same templates, values and SQL:
#   packages       mariadb-server, mariadb-client, keepalived, nftables from Debian; the
#                  ka-mariadb binaries built on the VM and installed in KA_BIN
#   lab_db_config  mariadb-ha.cnf -> /etc/mysql/mariadb.conf.d/60-ka-mariadb.cnf: mysqld
#                  boots read_only=ON, and a systemd drop-in stops one that came up writable
#   lab_accounts   grants.sql on the first primary, binary log on (the replica gets them)
#   lab_replicate  the other node replicates with GTID and semi-sync (and back, master-master)
#   lab_ka_config  ka.cnf and keepalived.conf; keepalived starts after mariadb (drop-in)
#   lab_ka_start   keepalived on the primary first: it takes the VIP and ka-notify-mariadb
#                  promotes it; then on the replica, which stays BACKUP (nopreempt)
# Which node becomes the first primary: ROLE=master, unless the peer already is a primary
# (a node rebuilt later joins the running pair). Idempotent: run again (`vagrant provision`)
# it re-renders, restarts what changed, and never repeats the one-time steps.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STAGE=$VG_ETC/.rendered                   # render-node's output, installed from here
DONE=$VG_STATE/setup.done                 # "primary" or "replica": how the node was set up
MARIADB_CNF=/etc/mysql/mariadb.conf.d/60-ka-mariadb.cnf
KEEPALIVED_CONF=/etc/keepalived/keepalived.conf
PEER_WAIT=${VG_PEER_WAIT:-1800}           # s a joining node waits for the peer (parallel up)
VIP_WAIT=180                              # s the first primary waits for VIP + promotion

main() {
	vg_write_node_vars "$@"
	[ "${V[KIND]:-}" = db ] || vg_die "db.sh is for KIND=db nodes, got '${V[KIND]:-}'"
	vg_check_interface
	vg_apt_install mariadb-server mariadb-client keepalived nftables jq
	vg_install_binaries
	vg_state_dirs
	db_systemd
	db_render
	vg_install_file "$STAGE/ka.cnf" "${V[KA_CNF]}" 600 || true
	if [ -f "$DONE" ]; then
		db_update
	else
		db_first_setup
	fi
	db_wrappers
	db_summary
}

# Renders the node's configs (render-node: the lab's render calls) into STAGE, checked by
# keepalived -t on this VM's real interface.
db_render() {
	rm -rf "$STAGE"
	install -d -m 0700 "$STAGE"
	vg_render_node "$VG_NODE_VARS" "$STAGE" >/dev/null ||
		vg_die "render failed for $VG_NODE (values in $VG_NODE_VARS)"
	vg_log "rendered keepalived-${V[MODE]} (priority $(awk '$1 == "priority" { print $2 }' "$STAGE/keepalived.conf")), ka.cnf, mariadb-ha.cnf, grants.sql"
}

# mysqld boots read-only, and is stopped again if it came up writable; keepalived starts
# after mariadb. (A crashed mysqld is restarted after 5 s, read-only: Debian's own unit
# does it, the drop-in says so because the failover drill depends on it.)
db_systemd() {
	local changed=0
	vg_write_file /usr/local/sbin/ka-assert-read-only 0755 <<'EOF' && changed=1
#!/bin/sh
# ka-assert-read-only: run by systemd once mariadb has started (ExecStartPost of the drop-in
# /etc/systemd/system/mariadb.service.d/ka-mariadb.conf). Every node of a ka-mariadb pair
# boots read_only=ON; only ka-notify-mariadb on the VIP holder turns it off. A server that
# came up writable anyway is stopped again (fail closed) instead of taking writes next to
# the primary. Written by vagrant/provision/db.sh.
ro=$(mariadb --no-defaults -uroot -S /run/mysqld/mysqld.sock -N -B --connect-timeout=10 \
	-e 'SELECT @@global.read_only') || {
	echo "ka-assert-read-only: cannot read @@read_only of the new mysqld: stopping it" >&2
	exit 1
}
[ "$ro" = 1 ] && exit 0
echo "ka-assert-read-only: mysqld came up writable (read_only=$ro): stopping it; every node must boot read_only=ON (/etc/mysql/mariadb.conf.d/60-ka-mariadb.cnf)" >&2
exit 1
EOF
	vg_write_file /etc/systemd/system/mariadb.service.d/ka-mariadb.conf 0644 <<'EOF' && changed=1
# ka-mariadb (vagrant/provision/db.sh)
[Service]
# Safety rule 1: every node boots read-only (read_only=ON in 60-ka-mariadb.cnf). A server
# that came up writable is stopped again.
ExecStartPost=+/usr/local/sbin/ka-assert-read-only
# A crashed mysqld (SIGKILL, OOM kill) is back after 5 s, read-only: keepalived's check sees
# it again and ka-notify-mariadb rejoins it as a replica of the new primary. Debian's unit
# does the same; stated here because the failover drill depends on it.
Restart=on-abnormal
RestartSec=5s
EOF
	vg_keepalived_dropin mariadb.service && changed=1
	if [ $changed = 1 ]; then systemctl daemon-reload; fi
	return 0
}

# ---- the first provisioning -------------------------------------------------------------

db_first_setup() {
	local path
	path=$(db_choose_path)
	if [ "$path" = replica ]; then
		# Until the peer is the primary, this mysqld stays off the network: the peer's
		# promotion gate must find it unreachable, not answering without accounts.
		systemctl stop mariadb
		vg_log "waiting for ${V[PEER_NAME]} (${V[PEER_IP]}) to be a writable primary (up to ${PEER_WAIT}s)"
		vg_wait_for "$PEER_WAIT" "${V[PEER_NAME]} (${V[PEER_IP]}) writable through the HA account" \
			vg_peer_writable || vg_die "${V[PEER_NAME]} did not become a primary: provision it first (vagrant up ${V[PEER_NAME]}), then 'vagrant provision $VG_NODE'"
	fi
	db_mariadb_config 1
	if [ "$path" = primary ]; then
		db_accounts
		db_keepalived_start
		db_wait_primary
	else
		db_join
		if [ "${V[MODE]}" = master-master ]; then db_replicate_back; fi
		db_keepalived_start
		db_wait_replica
	fi
	echo "$path" > "$DONE"
}

# primary: this node starts the pair (ROLE=master, the peer is not a set-up node);
# replica: it joins the peer (ROLE=backup, or the peer is already set up).
db_choose_path() {
	local ro
	ro=$(vg_peer_sql -e 'SELECT @@global.read_only' 2>/dev/null) || ro=""
	case $ro in
	0) vg_log "${V[PEER_NAME]} is already the primary: joining it"; echo replica ;;
	1) vg_log "${V[PEER_NAME]} is a set-up node: joining the pair when it is primary"; echo replica ;;
	*) if [ "${V[ROLE]}" = master ]; then echo primary; else echo replica; fi ;;
	esac
}

# Installs 60-ka-mariadb.cnf; (re)starts mariadb when it changed or when FORCE is 1, and
# waits until it answers. The drop-in has already refused a writable boot by then.
db_mariadb_config() {
	local force=${1:-0} changed=0
	vg_install_file "$STAGE/mariadb-ha.cnf" "$MARIADB_CNF" 644 && changed=1
	systemctl enable --quiet mariadb
	if [ $changed = 1 ] || [ "$force" = 1 ] || ! systemctl is-active --quiet mariadb; then
		if [ -f "$DONE" ] && vg_has_vip; then
			vg_log "restarting mariadb on the VIP holder: the VIP moves to ${V[PEER_NAME]}"
		fi
		systemctl restart mariadb || {
			journalctl -u mariadb -n 15 --no-pager >&2 || true
			vg_die "mariadb did not start"
		}
	fi
	vg_wait_for 60 "mariadb answering on $VG_SOCK" vg_local_read_only ||
		vg_die "mariadb does not answer on $VG_SOCK"
}

# The lab's lab_accounts on the first primary.
db_accounts() {
	local grants=$VG_STATE/grants.sql
	vg_install_file "$STAGE/grants.sql" "$grants" 600 || true
	vg_accounts_sql "$grants" "${V[APP_DB]}" | vg_sql || vg_die "creating the accounts failed"
	vg_log "accounts created from grants.sql (binary log on: ${V[PEER_NAME]} receives them)"
}

# The lab's lab_replicate: this node replicates from the peer, then waits until it holds
# everything the peer has binlogged.
db_join() {
	local pos
	if vg_has_replication; then
		vg_log "replication already configured: not changed"
	else
		vg_replicate_sql "${V[PEER_IP]}" "${V[REPL_PASSWORD]}" | vg_sql ||
			vg_die "setting up replication from ${V[PEER_IP]} failed"
	fi
	vg_wait_for 60 "replication from ${V[PEER_IP]} running" vg_replicating ||
		vg_die "replication from ${V[PEER_IP]} does not run: $(vg_sql -e 'SHOW SLAVE STATUS\G' | grep -E 'Last_(IO|SQL)_Error:' | tr -s ' ')"
	pos=$(vg_peer_sql -e 'SELECT @@global.gtid_binlog_pos') || vg_die "cannot read ${V[PEER_NAME]}'s position"
	if [ -n "$pos" ] && [ "$(vg_sql -e "SELECT MASTER_GTID_WAIT('$pos', 100)")" != 0 ]; then
		vg_die "did not catch up with ${V[PEER_NAME]} ($pos) within 100 s"
	fi
	vg_log "replicating from ${V[PEER_NAME]} (${V[PEER_IP]}) with GTID, caught up at '$pos'"
}

# master-master (the lab's second lab_replicate): the primary also replicates from this
# node, set up through the HA account (REPLICATION SLAVE ADMIN). Once only.
db_replicate_back() {
	if [ -n "$(vg_peer_sql -e 'SHOW ALL SLAVES STATUS')" ]; then
		vg_log "${V[PEER_NAME]} already replicates: not changed"
		return 0
	fi
	vg_replicate_sql "${V[NODE_IP]}" "${V[REPL_PASSWORD]}" | vg_peer_sql ||
		vg_die "setting up replication ${V[PEER_NAME]} <- $VG_NODE failed"
	vg_wait_for 60 "${V[PEER_NAME]} replicating from $VG_NODE" db_peer_replicating ||
		vg_die "${V[PEER_NAME]} does not replicate from $VG_NODE"
	vg_log "master-master: ${V[PEER_NAME]} replicates from $VG_NODE too"
}

db_peer_replicating() {
	[ "$(vg_peer_sql -e "SELECT 1 FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='SLAVE_RUNNING' AND VARIABLE_VALUE='ON'")" = 1 ]
}

db_keepalived_start() {
	vg_install_file "$STAGE/keepalived.conf" "$KEEPALIVED_CONF" 644 || true
	systemctl enable --quiet keepalived
	systemctl restart keepalived
}

db_is_primary() { vg_has_vip && vg_local_writable; }

# The lab's lab_wait_vip + lab_wait_read_only: the VIP here and read_only=OFF.
db_wait_primary() {
	vg_log "waiting for keepalived to take the VIP ${V[VIP]} and ka-notify-mariadb to promote"
	if ! vg_wait_for "$VIP_WAIT" "VIP ${V[VIP]} on ${V[INTERFACE]} and read_only=OFF" db_is_primary; then
		db_diagnose
		[ -n "${V[WITNESS]}" ] &&
			vg_log "hint: the check needs the witness ${V[WITNESS]} (vagrant up witness; without it remove the witness machine from the Vagrantfile)"
		vg_die "$VG_NODE did not become the primary"
	fi
	vg_log "$VG_NODE holds the VIP ${V[VIP]} and is writable"
}

# The lab's lab_wait_vip_stays: the VIP stays on the peer, this node stays read-only.
db_wait_replica() {
	local end
	end=$(($(vg_now_ms) + 5000))
	while [ "$(vg_now_ms)" -lt "$end" ]; do
		if vg_has_vip || vg_local_writable; then
			db_diagnose
			vg_die "$VG_NODE took the VIP or became writable while joining the pair"
		fi
		sleep 0.5
	done
	vg_log "$VG_NODE is a read-only replica, keepalived BACKUP; the VIP stays on ${V[PEER_NAME]}"
}

db_diagnose() {
	{
		echo "---- journalctl -u keepalived (tail)"
		journalctl -u keepalived -n 20 --no-pager 2>/dev/null || true
		echo "---- ka-notify-mariadb journal (tail)"
		tail -3 "${V[STATE_DIR]}/journal.jsonl" 2>/dev/null || true
		echo "---- ka-check-mariadb"
		ka_check_cmd --verbose 2>&1 || true
	} >&2
}

ka_check_cmd() {
	local cmd
	cmd=$(db_check_command)
	[ -n "$cmd" ] || return 1
	# shellcheck disable=SC2086 # a command line without quoted words (render's paths)
	$cmd "$@"
}

# ---- a later provisioning ---------------------------------------------------------------

# Re-rendered configs: mariadb restarts when its settings changed (on the VIP holder that
# is a failover), keepalived reloads when its config changed; both run and start at boot.
db_update() {
	db_mariadb_config 0
	if vg_install_file "$STAGE/keepalived.conf" "$KEEPALIVED_CONF" 644 &&
		systemctl is-active --quiet keepalived; then
		systemctl reload keepalived
		vg_log "keepalived reloaded"
	fi
	systemctl enable --quiet keepalived
	systemctl is-active --quiet keepalived || systemctl start keepalived
	if [ "${V[MODE]}" = master-master ] && vg_has_replication && ! vg_local_writable; then
		db_replicate_back
	fi
	return 0
}

# ---- helpers for the operator -----------------------------------------------------------

# The chk_mysqld command line of the installed keepalived.conf.
db_check_command() {
	sed -n 's/^ *script "\(.*ka-check-mariadb .*\)"$/\1/p' "$KEEPALIVED_CONF" 2>/dev/null |
		{ grep -v -- ' --replication' || true; } | head -1
}

# The ka-notify-mariadb command line of the installed keepalived.conf (without the event).
db_notify_command() {
	sed -n -e 's/^ *notify_master "\(.*\) master"$/\1/p' \
		-e 's/^ *vrrp_notify_fifo_script "\(.*\) --fifo"$/\1/p' "$KEEPALIVED_CONF" | head -1
}

# ka-check and ka-notify: the binaries with exactly the options keepalived gives them.
db_wrappers() {
	local check notify
	check=$(db_check_command) notify=$(db_notify_command)
	if [ -z "$check" ] || [ -z "$notify" ]; then
		vg_die "cannot find the check and notify commands in $KEEPALIVED_CONF"
	fi
	vg_wrapper ka-check "ka-check-mariadb as keepalived's chk_mysqld runs it (try --verbose, --json)" "$check"
	vg_wrapper ka-notify "ka-notify-mariadb with this node's options: ka-notify clear-fault | rejoin | --dry-run master" "$notify"
}

db_summary() {
	local repl
	repl=$(vg_sql -e 'SHOW SLAVE STATUS\G' | awk '/ Master_Host:/ { h = $2 } / Slave_IO_Running:/ { io = $2 }
		/ Slave_SQL_Running:/ { sql = $2 } END { print (h == "" ? "none" : "from " h " io=" io " sql=" sql) }')
	vg_log "$VG_NODE: VIP $(vg_has_vip && echo here || echo elsewhere), read_only=$(vg_local_read_only), replication $repl; try: sudo ka-check --verbose"
}

main "$@"
