# The network-namespace lab: two (or three) MariaDB nodes, each with its own mariadbd and
# keepalived, a client and a witness, on one bridge without uplink (DESIGN.md "Labs").
#
#   ka-lan      holds the bridge ka-br0 (no address, no uplink, nothing routed)
#   ka-db1      eth0 192.0.2.11   mariadbd :3306 + keepalived (ROLE master, priority 100)
#   ka-db2      eth0 192.0.2.12   mariadbd :3306 + keepalived (ROLE backup, priority 90)
#   ka-db3      eth0 192.0.2.13   LAB_NODES=3 only: mariadbd :3306 + keepalived (ROLE backup,
#                                 CANDIDATE_RANK 2: priority 80), replicating from db1 as db2
#   ka-client   eth0 192.0.2.20   writers (ka-drill) through the VIP 192.0.2.100
#   ka-witness  eth0 192.0.2.30   a TCP listener on :7 for ka-check-mariadb --witness (it
#                                 sends a banner line, as sshd does)
#
# Configs are rendered by conf-templates/render (keepalived, MariaDB HA settings, grants,
# ka.cnf); binaries come from $KA_BIN (default build/). Everything lives in $KA_LAB_DIR
# (default /tmp/ka-lab); every process is recorded by PID and every namespace is named ka-*,
# so lab_down removes all of it, also after a failed or interrupted run. One lab per machine.
#
# Settings (environment, read by lab_up and recorded in $KA_LAB_DIR/settings):
#   LAB_NODES=2|3  3: db3 as well; every node's keepalived, checks and notify get the other
#     two as --peer list (PEER_IP=IP,IP); primary-replica only. The helpers that look at
#     "every node" (lab_nodes) follow the running lab's recorded LAB_NODES.
#   LAB_MODE=primary-replica|master-master  LAB_VRRP_VERSION=2|3  LAB_ADVERT_INT=1
#   LAB_UNICAST=no|yes  LAB_NOTIFY=scripts|fifo  LAB_WITNESS=yes|no
#   LAB_PROFILE=stock|fast  fast: the templates' PROFILE=fast (VRRPv3, LAB_ADVERT_INT default
#     0.1) and ka-watch-mariadb in each db namespace, started before keepalived as its unit
#     would be (--track-file the keepalived track_file's path $KA_LAB_DIR/dbN/watch, --peer,
#     --witness), recorded by PID (dbN/watcher.pid), output in dbN/watcher.log

LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_BIN=${KA_BIN:-$LAB_REPO/build}
LAB_DIR=${KA_LAB_DIR:-/tmp/ka-lab}
LAB_RENDER=$LAB_REPO/conf-templates/render
LAB_VIP=192.0.2.100
LAB_WITNESS_PORT=7
LAB_DB=ka_lab
# Every namespace a lab may have made (db3 too): lab_down removes whatever of them exists.
LAB_NAMESPACES=(ka-db1 ka-db2 ka-db3 ka-client ka-witness ka-lan)
declare -gA LAB_IP=([db1]=192.0.2.11 [db2]=192.0.2.12 [db3]=192.0.2.13 [client]=192.0.2.20
	[witness]=192.0.2.30)
declare -gA LAB_SID=([db1]=11 [db2]=12 [db3]=13)
LAB_PW_CHECK=lab-check-pw-1
LAB_PW_HA=lab-ha-pw-123
LAB_PW_REPL=lab-repl-pw-1
LAB_PW_APP=lab-app-pw-12

lab_log() { printf 'lab %s: %s\n' "$(date +%T.%3N)" "$*" >&2; }

# Milliseconds since the epoch, without a fork.
lab_now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# The other node of a pair (2-node helpers; with three nodes see lab_peers).
lab_peer() { [ "$1" = db1 ] && echo db2 || echo db1; }

# How many database nodes the lab has: the running lab's recorded LAB_NODES, else the
# environment's, else 2.
lab_node_count() {
	local n=""
	[ -r "$LAB_DIR/settings" ] && n=$(sed -n 's/^LAB_NODES=//p' "$LAB_DIR/settings")
	echo "${n:-${LAB_NODES:-2}}"
}

# The database nodes, one line: "db1 db2" or "db1 db2 db3".
lab_nodes() {
	local i out="" c
	c=$(lab_node_count)
	for ((i = 1; i <= c; i++)); do out+="${out:+ }db$i"; done
	echo "$out"
}

# Every database node but NODE, one line ("db2 db3" for db1 of three).
lab_peers() {
	local n out=""
	for n in $(lab_nodes); do [ "$n" = "$1" ] || out+="${out:+ }$n"; done
	echo "$out"
}

# NODE's keepalived priority: db1 100 (ROLE master), dbN 100 - 10 x (N - 1) (ROLE backup,
# CANDIDATE_RANK N - 1).
lab_priority() { echo $((110 - 10 * ${1#db})); }

# The real addresses of NODES ("$@"), comma separated (render's PEER_IP list).
lab_ip_list() {
	local n out=""
	for n in "$@"; do out+="${out:+,}${LAB_IP[$n]}"; done
	echo "$out"
}

lab_settings_load() {
	: "${LAB_NODES:=2}"
	: "${LAB_UNICAST:=no}" "${LAB_NOTIFY:=scripts}" "${LAB_WITNESS:=yes}" "${LAB_PROFILE:=stock}"
	if [ "$LAB_PROFILE" = fast ]; then
		: "${LAB_VRRP_VERSION:=3}" "${LAB_ADVERT_INT:=0.1}"
	fi
	: "${LAB_MODE:=primary-replica}" "${LAB_VRRP_VERSION:=2}" "${LAB_ADVERT_INT:=1}"
}

# ---- processes --------------------------------------------------------------------------

# Starts "$@" in namespace ka-NODE in the background, records its PID in FILE.
lab_spawn() {
	local node=$1 pidfile=$2 log=$3
	shift 3
	ip netns exec "ka-$node" "$@" >>"$log" 2>&1 </dev/null 3>&- &
	echo $! > "$pidfile"
	disown $! 2>/dev/null || true   # no "Killed" job reports when it is ended on purpose
}

lab_pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# True when PID runs inside one of the lab's namespaces: only such a process is ours to
# signal (a recorded PID from an old, interrupted lab may have been reused since).
lab_ours() {
	lab_pid_alive "$1" || return 1
	case $(ip netns identify "$1" 2>/dev/null) in
	ka-db1|ka-db2|ka-db3|ka-client|ka-witness|ka-lan) return 0 ;;
	esac
	return 1
}

# Sends signal $1 to PID $2 when it is ours.
lab_kill() { lab_ours "$2" && kill "-$1" "$2" 2>/dev/null; }

# Sends SIG to the PID recorded in FILE (when that process still runs).
lab_signal_pidfile() {
	local sig=$1 file=$2 pid
	[ -f "$file" ] || return 1
	pid=$(cat "$file" 2>/dev/null)
	lab_kill "$sig" "$pid"
}

# Waits up to $2 seconds (default 10) for PID $1 to be gone; reaps it when it is our child.
lab_wait_gone() {
	local pid=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 20; i++)); do
		lab_pid_alive "$pid" || break
		# A zombie child counts as gone once reaped.
		[ "$(ps -o stat= -p "$pid" 2>/dev/null)" = Z ] && break
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	! lab_pid_alive "$pid" || [ "$(ps -o stat= -p "$pid" 2>/dev/null)" = Z ]
}

# ---- network ----------------------------------------------------------------------------

lab_net_up() {
	local n
	ip netns add ka-lan || return 1
	ip -n ka-lan link set lo up
	ip -n ka-lan link add ka-br0 type bridge mcast_snooping 0 || return 1
	ip -n ka-lan link set ka-br0 up
	for n in $(lab_nodes) client witness; do
		ip netns add "ka-$n" || return 1
		ip -n ka-lan link add "v-$n" type veth peer name eth0 netns "ka-$n" || return 1
		ip -n ka-lan link set "v-$n" master ka-br0 up
		ip -n "ka-$n" link set lo up
		ip -n "ka-$n" addr add "${LAB_IP[$n]}/24" dev eth0
		ip -n "ka-$n" link set eth0 up
	done
}

# The cable of NODE: down or up (the bridge side, as if unplugged).
lab_link() { ip -n ka-lan link set "v-$1" "$2"; }

# A silent partition: NODE's links stay up but it drops every packet in and out.
lab_isolate() {
	ip netns exec "ka-$1" nft -f - <<'NFT'
table inet ka_lab_partition {
	chain input { type filter hook input priority -300; policy accept; iifname "eth0" drop; }
	chain output { type filter hook output priority -300; policy accept; oifname "eth0" drop; }
}
NFT
}

lab_heal() { ip netns exec "ka-$1" nft delete table inet ka_lab_partition 2>/dev/null; true; }

# NODE's replication stream from SOURCE stalls: NODE drops what SOURCE sends on the
# connection of NODE's IO thread (found in SOURCE's binlog dump threads), nothing else.
# The IO thread still shows "Yes" (until slave_net_timeout), but receives and acknowledges
# nothing: the other replica alone acknowledges semi-sync commits.
lab_stall_replication() {
	local node=$1 src=$2 port
	port=$(lab_sql "$src" "SELECT SUBSTRING_INDEX(HOST, ':', -1) FROM information_schema.PROCESSLIST
		WHERE COMMAND = 'Binlog Dump' AND HOST LIKE '${LAB_IP[$node]}:%' LIMIT 1" 5)
	[[ $port =~ ^[0-9]+$ ]] || { lab_log "no binlog dump thread of $src serves $node"; return 1; }
	ip netns exec "ka-$node" nft -f - <<NFT
table inet ka_lab_stall {
	chain input { type filter hook input priority -300; policy accept;
		ip saddr ${LAB_IP[$src]} tcp sport 3306 tcp dport $port drop; }
}
NFT
}

lab_unstall() { ip netns exec "ka-$1" nft delete table inet ka_lab_stall 2>/dev/null; true; }

# ---- witness ----------------------------------------------------------------------------

# The witness greets every connection with one line, as sshd does with its banner:
# ka-check-mariadb counts a witness only when it sends a byte (a proxy or NAT that
# completes the handshake for a host that is gone cannot), unless --witness-connect-only.
LAB_WITNESS_BANNER=SSH-2.0-ka-lab-witness
lab_witness_up() {
	local d=$LAB_DIR/witness
	mkdir -p "$d"
	# One process, no fork per connection: the fast profile's watchers ask the witness 10
	# times a second each, and socat's fork+exec per connection on a loaded 2-core box
	# took longer than a probe's deadline (witness "timed out", a false FAULT).
	if ! command -v python3 >/dev/null; then
		lab_spawn witness "$d/listener.pid" "$d/listener.log" \
			socat "TCP-LISTEN:$LAB_WITNESS_PORT,bind=${LAB_IP[witness]},fork,reuseaddr" \
			"EXEC:echo $LAB_WITNESS_BANNER"
	else
		lab_spawn witness "$d/listener.pid" "$d/listener.log" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
while True:
    c, _ = s.accept()
    try: c.sendall(sys.argv[3].encode() + b"\n")
    except OSError: pass
    c.close()' "${LAB_IP[witness]}" "$LAB_WITNESS_PORT" "$LAB_WITNESS_BANNER"
	fi
}

# ---- MariaDB ----------------------------------------------------------------------------

lab_sock() { echo "$LAB_DIR/$1/sock"; }

# Runs SQL on NODE as root over its unix socket (-N -B), bounded to ${3:-10} s.
lab_sql() {
	# stdin, not -e: CHANGE MASTER and CREATE USER carry passwords (never on argv)
	timeout -k 1 "${3:-10}" mariadb --no-defaults -uroot -S "$(lab_sock "$1")" -N -B \
		--connect-timeout=3 <<< "$2"
}

# Runs SQL as the application account through ADDRESS (default the VIP) from ka-client.
lab_app_sql() {
	timeout -k 1 "${3:-10}" ip netns exec ka-client mariadb --defaults-file="$LAB_DIR/client/app.cnf" \
		-h "${2:-$LAB_VIP}" -P 3306 -N -B --connect-timeout=3 -e "$1"
}

# Waits up to $3 s (default 30) until SQL $2 on NODE $1 prints a non-empty line.
lab_wait_sql() {
	local node=$1 sql=$2 limit=${3:-30} end out=""
	end=$(($(lab_now_ms) + limit * 1000))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		out=$(lab_sql "$node" "$sql" 3 2>/dev/null) && [ -n "$out" ] && return 0
		sleep 0.2
	done
	lab_log "$node did not satisfy within ${limit}s: $sql"
	return 1
}

# One mariadb-install-db for the lab, copied for each node (fast, identical system tables).
lab_db_seed() {
	local seed=$LAB_DIR/seed
	[ -d "$seed/data/mysql" ] && return 0
	mkdir -p "$seed"
	mariadb-install-db --no-defaults --datadir="$seed/data" --user=root \
		--auth-root-authentication-method=socket --skip-test-db \
		--innodb-log-file-size=16M >"$seed/install.log" 2>&1 || {
		lab_log "mariadb-install-db failed:"; tail -20 "$seed/install.log" >&2; return 1; }
}

lab_db_config() {
	local n=$1 d=$LAB_DIR/$1
	"$LAB_RENDER" --out "$d/ka-ha.cnf" mariadb-ha.cnf NODE_NAME="$n" \
		SERVER_ID="${LAB_SID[$n]}" SEMISYNC_TIMEOUT_MS="${LAB_SEMISYNC_TIMEOUT_MS:-10000}" ||
		return 1
	cat > "$d/my.cnf" <<CNF
# lab-only paths; the HA settings come from conf-templates/mariadb-ha.cnf.in
[mariadb]
datadir                 = $d/data
socket                  = $d/sock
pid_file                = $d/mariadbd.pidfile
log_error               = $d/error.log
port                    = 3306
innodb_buffer_pool_size = 32M
innodb_log_file_size    = 16M
max_connections         = 100
!include $d/ka-ha.cnf
CNF
}

# Starts NODE's mariadbd (first start or a restart on the same datadir), waits until it answers.
lab_db_start() { lab_db_launch "$1" && lab_db_wait_up "$1"; }

# Starts NODE's mariadbd in the background (lab_db_wait_up waits until it answers).
lab_db_launch() {
	local d=$LAB_DIR/$1
	lab_spawn "$1" "$d/mariadbd.pid" "$d/mariadbd.out" \
		mariadbd --defaults-file="$d/my.cnf" --user=root
}

# Waits up to 60 s until NODE's mariadbd answers; else shows its error log and fails.
lab_db_wait_up() {
	lab_wait_sql "$1" "SELECT 1" 60 && return 0
	lab_log "mariadbd on $1 did not start; error log:"
	tail -20 "$LAB_DIR/$1/error.log" >&2
	return 1
}

# True when NODE's recorded mariadbd runs.
lab_db_running() { lab_ours "$(lab_db_pid "$1")"; }

lab_db_pid() { cat "$LAB_DIR/$1/mariadbd.pid" 2>/dev/null; }

# SIGKILLs NODE's mariadbd (a crash) and reaps it.
_lab_db_kill() {
	local pid
	pid=$(lab_db_pid "$1")
	lab_ours "$pid" || return 0
	lab_kill CONT "$pid"
	lab_kill KILL "$pid"
	lab_wait_gone "$pid" 10
}

lab_db_stop_signal() { lab_kill "$2" "$(lab_db_pid "$1")"; }

# Replication NODE <- SOURCE with GTID (as ka-notify-mariadb's rejoin would do it). A node
# that has binlogged transactions of its own (the second direction of master-master) starts
# from its own binlog position.
lab_replicate() {
	local node=$1 src=$2
	lab_sql "$node" "SET GLOBAL gtid_slave_pos=@@global.gtid_binlog_pos" || return 1
	lab_sql "$node" "CHANGE MASTER TO MASTER_HOST='${LAB_IP[$src]}', MASTER_PORT=3306,
		MASTER_USER='repl', MASTER_PASSWORD='$LAB_PW_REPL', MASTER_USE_GTID=slave_pos,
		MASTER_CONNECT_RETRY=1; START SLAVE;" || return 1
	lab_wait_sql "$node" "SELECT 1 FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='SLAVE_RUNNING' AND VARIABLE_VALUE='ON'" 30
}

# ---- keepalived -------------------------------------------------------------------------

# NODE's values for conf-templates/render. A pair's are those of a pair; with three nodes
# PEER_IP lists both other nodes and a backup's CANDIDATE_RANK gives db2 90, db3 80.
lab_vars() {
	local n=$1 d=$LAB_DIR/$1 peer_ip
	# shellcheck disable=SC2046 # node names are single words
	peer_ip=$(lab_ip_list $(lab_peers "$n"))
	[ "$(lab_node_count)" -gt 2 ] || peer_ip=${LAB_IP[$(lab_peer "$n")]}
	echo "ROLE=$([ "$n" = db1 ] && echo master || echo backup)"
	[ "$(lab_node_count)" -gt 2 ] && [ "$n" != db1 ] && echo "CANDIDATE_RANK=$((${n#db} - 1))"
	cat <<VARS
NODE_NAME=$n
INTERFACE=eth0
VIP=$LAB_VIP
ROUTER_ID=51
NODE_IP=${LAB_IP[$n]}
PEER_IP=$peer_ip
UNICAST=$LAB_UNICAST
VRRP_VERSION=$LAB_VRRP_VERSION
ADVERT_INT=$LAB_ADVERT_INT
NOTIFY=$LAB_NOTIFY
NOTIFY_FIFO_PATH=$d/notify.fifo
WITNESS=$([ "$LAB_WITNESS" = yes ] && echo "${LAB_IP[witness]}:$LAB_WITNESS_PORT")
KA_BIN=$LAB_BIN
KA_CNF=$d/ka.cnf
MYSQL_SOCKET=$d/sock
STATE_DIR=$d/state
FAULT_FILE=$d/fault
CATCHUP_TIMEOUT=10
PROFILE=$LAB_PROFILE
WATCH_FILE=$d/watch
CHECK_PASSWORD=$LAB_PW_CHECK
HA_PASSWORD=$LAB_PW_HA
REPL_PASSWORD=$LAB_PW_REPL
VARS
}

lab_ka_config() {
	local n=$1 d=$LAB_DIR/$1 t=keepalived-$LAB_MODE
	lab_vars "$n" > "$d/node.vars"
	"$LAB_RENDER" --vars "$d/node.vars" --out "$d/ka.cnf" ka.cnf || return 1
	"$LAB_RENDER" --vars "$d/node.vars" --netns "ka-$n" --out "$d/keepalived.conf" "$t" \
		> "$d/timing.txt" || return 1
}

# lab_ka_config for every node of "$@" at once (render's keepalived -t takes seconds each).
lab_ka_config_all() {
	local n pids=() rc=0
	for n in "$@"; do
		lab_ka_config "$n" &
		pids+=($!)
	done
	for n in "${pids[@]}"; do wait "$n" || rc=1; done
	return $rc
}

lab_ka_start() {
	local n=$1 d=$LAB_DIR/$1
	mkdir -p "$d/state"
	lab_spawn "$n" "$d/keepalived.launch.pid" "$d/keepalived.log" \
		keepalived --dont-fork --log-console --log-detail --vrrp -f "$d/keepalived.conf" \
		-p "$d/keepalived.pid" -r "$d/vrrp.pid" -c "$d/checkers.pid"
}

# ---- the watcher (LAB_PROFILE=fast) ----------------------------------------------------

lab_watcher_pid() { cat "$LAB_DIR/$1/watcher.pid" 2>/dev/null; }

# The value of NODE's watcher track file (empty when there is none).
lab_watcher_value() { cat "$LAB_DIR/$1/watch" 2>/dev/null; }

# Starts ka-watch-mariadb in NODE's namespace with the options the rendered
# ka-watch-mariadb.env carries (the unit's: --track-file, --defaults-file, --socket,
# --peer, --witness), and waits up to 10 s until it reports the node fit (track 0).
lab_watcher_start() {
	local n=$1 d=$LAB_DIR/$1 opts
	opts=$("$LAB_RENDER" --vars "$d/node.vars" ka-watch-mariadb.env | sed -n 's/^KA_WATCH_OPTS=//p')
	[ -n "$opts" ] || { lab_log "no KA_WATCH_OPTS rendered for $n"; return 1; }
	# shellcheck disable=SC2086 # KA_WATCH_OPTS is a word list, as systemd splits it
	lab_spawn "$n" "$d/watcher.pid" "$d/watcher.log" \
		"$LAB_BIN/ka-watch-mariadb" --track-file "$d/watch" $opts
	lab_wait_for 10 lab_watcher_fit "$n"
}

lab_watcher_fit() { [ "$(lab_watcher_value "$1")" = 0 ]; }

# SIGKILLs NODE's watcher (its track file keeps the last value) and reaps it.
_lab_watcher_kill() {
	local pid
	pid=$(lab_watcher_pid "$1")
	lab_ours "$pid" || return 0
	lab_kill KILL "$pid"
	lab_wait_gone "$pid" 5
}

# ---- an installed node -----------------------------------------------------------------

# NODE's scratch root for `make install` (PREFIX, RUNDIR, STATEDIR point into it).
lab_inst_root() { echo "$LAB_DIR/$1/root"; }

# Installs what $LAB_BIN holds into NODE's scratch root the way a node is installed:
# `make install` (binaries, tmpfiles.d entry, directories), nothing created by the lab.
lab_install() {
	local r
	r=$(lab_inst_root "$1")
	make --no-print-directory -C "$LAB_REPO" install BUILD="$LAB_BIN" \
		PREFIX="$r/usr/local" RUNDIR="$r/run/ka-mariadb" STATEDIR="$r/var/lib/ka-mariadb"
}

# A reboot of NODE's scratch root as far as ka-mariadb is concerned: the runtime directory
# (tmpfs) is gone, then systemd-tmpfiles runs the installed tmpfiles.d entry, as at boot.
lab_install_reboot() {
	local r
	r=$(lab_inst_root "$1")
	rm -rf "$r/run/ka-mariadb"
	systemd-tmpfiles --create "$r/usr/local/lib/tmpfiles.d/ka-mariadb.conf"
}

# Renders NODE's keepalived.conf for the installed paths (binaries from the install, notify
# FIFO in RUNDIR, fault file and state in STATEDIR), through render's host checks.
lab_ka_config_installed() {
	local n=$1 d=$LAB_DIR/$1 r
	lab_settings_load
	r=$(lab_inst_root "$n")
	{
		lab_vars "$n"
		echo "KA_BIN=$r/usr/local/libexec/ka-mariadb"
		echo "NOTIFY=fifo"
		echo "NOTIFY_FIFO_PATH=$r/run/ka-mariadb/notify.fifo"
		echo "STATE_DIR=$r/var/lib/ka-mariadb"
		echo "FAULT_FILE=$r/var/lib/ka-mariadb/fault"
	} > "$d/installed.vars"
	"$LAB_RENDER" --vars "$d/installed.vars" --netns "ka-$n" --out "$d/keepalived.conf" \
		"keepalived-$LAB_MODE" > "$d/timing.txt"
}

# The host-death stand-in: freezes the parent (no respawn), SIGKILLs the VRRP child, then
# the parent. No priority-0 advert, no VIP removal: the peer must notice the silence.
_lab_ka_kill() {
	local d=$LAB_DIR/$1 parent child
	parent=$(cat "$d/keepalived.launch.pid" 2>/dev/null)
	child=$(cat "$d/vrrp.pid" 2>/dev/null)
	lab_kill STOP "$parent"
	lab_kill KILL "$child"
	lab_kill KILL "$parent"
	lab_wait_gone "$parent" 5
	lab_wait_gone "$child" 5
	rm -f "$d/keepalived.pid" "$d/vrrp.pid"
}

# A clean keepalived stop (SIGTERM: notify stop, VIP released).
_lab_ka_stop() {
	local d=$LAB_DIR/$1 parent
	parent=$(cat "$d/keepalived.launch.pid" 2>/dev/null)
	lab_ours "$parent" || return 0
	lab_kill TERM "$parent"
	lab_wait_gone "$parent" 10 || { lab_kill KILL "$parent"; lab_wait_gone "$parent" 5; }
}

# ---- observation ------------------------------------------------------------------------

lab_has_vip() { ip -n "ka-$1" -4 -o addr show dev eth0 2>/dev/null | grep -q " $LAB_VIP/"; }

# Prints db1, db2 (db3), none, or "db1 db2" (more than one: a split brain of the VIP).
lab_vip_holder() {
	local n out=""
	for n in $(lab_nodes); do
		lab_has_vip "$n" && out+="${out:+ }$n"
	done
	echo "${out:-none}"
}

# Waits up to $2 s until the VIP holder is $1 (db1, db2, none).
lab_wait_vip() {
	local want=$1 limit=${2:-30} end
	end=$(($(lab_now_ms) + limit * 1000))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		[ "$(lab_vip_holder)" = "$want" ] && return 0
		sleep 0.05
	done
	lab_log "VIP not on '$want' within ${limit}s (on: $(lab_vip_holder))"
	return 1
}

lab_read_only() { lab_sql "$1" "SELECT @@global.read_only" 5; }

# Waits up to $3 s until NODE's read_only is $2 (0 or 1).
lab_wait_read_only() {
	lab_wait_sql "$1" "SELECT 1 FROM DUAL WHERE @@global.read_only = $2" "${3:-30}"
}

# "Yes Yes" when both replication threads of NODE run.
lab_repl_threads() {
	lab_sql "$1" "SHOW SLAVE STATUS" 5 >/dev/null 2>&1 || { echo "unreachable"; return; }
	timeout 10 mariadb --no-defaults -uroot -S "$(lab_sock "$1")" -e "SHOW SLAVE STATUS\G" 2>/dev/null |
		awk '/ Slave_IO_Running:/ { io = $2 } / Slave_SQL_Running:/ { sql = $2 }
		     END { print (io == "" ? "none" : io " " sql) }'
}

lab_wait_replicating() {
	lab_wait_sql "$1" "SELECT 1 FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='SLAVE_RUNNING' AND VARIABLE_VALUE='ON'" "${2:-30}"
}

# Waits until REPLICA has applied everything SOURCE has in its binlog.
lab_wait_synced() {
	local pos
	pos=$(lab_sql "$2" "SELECT @@gtid_binlog_pos") || return 1
	lab_wait_sql "$1" "SELECT 1 FROM DUAL WHERE MASTER_GTID_WAIT('$pos', 0.5) = 0" "${3:-30}"
}


lab_state() {
	local n
	for n in $(lab_nodes); do
		printf '%s: vip=%s read_only=%s repl=%s gtid=%s\n' "$n" \
			"$(lab_has_vip "$n" && echo yes || echo no)" "$(lab_read_only "$n" 2>/dev/null || echo '?')" \
			"$(lab_repl_threads "$n")" "$(lab_sql "$n" 'SELECT @@gtid_current_pos' 5 2>/dev/null)"
	done
}

# The notify journal of NODE (one JSON line per run), empty when there is none.
lab_journal() { cat "$LAB_DIR/$1/state/journal.jsonl" 2>/dev/null; }

# Dumps what a failed test needs to see (to stderr).
lab_diagnose() {
	local n
	{
		echo "---- lab state"
		lab_state || true
		for n in $(lab_nodes); do
			echo "---- $n keepalived.log (tail)"
			tail -25 "$LAB_DIR/$n/keepalived.log" 2>/dev/null || true
			echo "---- $n notify journal (tail)"
			tail -5 "$LAB_DIR/$n/state/journal.jsonl" 2>/dev/null || true
			echo "---- $n error.log (tail)"
			tail -8 "$LAB_DIR/$n/error.log" 2>/dev/null || true
		done
		echo "---- drill stderr (tail)"
		tail -5 "$LAB_DIR/client/drill.err" 2>/dev/null || true
	} >&2
	return 0
}

# ---- writers ----------------------------------------------------------------------------

# ka-drill through the VIP from ka-client, in the background; report (JSON) in $LAB_DIR/client.
lab_drill_start() {
	local rate=${1:-50} duration=${2:-30} d=$LAB_DIR/client
	rm -f "$d/drill.json" "$d/drill.err"
	ip netns exec ka-client "$LAB_BIN/ka-drill" --hosts "$LAB_VIP:3306" \
		--defaults-file "$d/app.cnf" --database "$LAB_DB" --rate "$rate" \
		--duration "$duration" --json >"$d/drill.json" 2>"$d/drill.err" </dev/null 3>&- &
	echo $! > "$d/drill.pid"
	disown $! 2>/dev/null || true
	lab_log "ka-drill started: ${rate}/s for ${duration}s through $LAB_VIP"
}

# Waits for the drill to finish (up to its duration + $1 s); prints its JSON.
_lab_drill_wait() {
	local d=$LAB_DIR/client pid limit=${1:-60}
	pid=$(cat "$d/drill.pid" 2>/dev/null)
	if lab_pid_alive "$pid" && ! lab_wait_gone "$pid" "$limit"; then
		lab_log "ka-drill did not finish in time; interrupting it"
		lab_kill INT "$pid"
		lab_wait_gone "$pid" 10 || lab_kill KILL "$pid"
	fi
	cat "$d/drill.json"
}

lab_json() { jq -r "$2" <<<"$1"; }

# ---- the whole lab ----------------------------------------------------------------------

# Removes everything a lab (this one or an interrupted earlier one) created. Idempotent.
_lab_down() {
	local ns pid f
	# Recorded PIDs first (keepalived parents before their children), then whatever still
	# runs inside our namespaces (notify runs, drills, listeners): all of it is ours.
	for f in "$LAB_DIR"/*/keepalived.launch.pid "$LAB_DIR"/*/vrrp.pid "$LAB_DIR"/*/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		lab_kill CONT "$pid"
		lab_kill KILL "$pid"
	done
	for ns in "${LAB_NAMESPACES[@]}"; do
		ip netns list 2>/dev/null | grep -qw "^$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -CONT "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	for f in "$LAB_DIR"/*/*.pid; do
		[ -f "$f" ] && lab_wait_gone "$(cat "$f" 2>/dev/null)" 5
	done
	for ns in "${LAB_NAMESPACES[@]}"; do
		ip netns list 2>/dev/null | grep -qw "^$ns" && ip netns del "$ns" 2>/dev/null
	done
	# A process could still be leaving a namespace: try once more after a moment.
	if ip netns list 2>/dev/null | grep -q '^ka-\(db[0-9]\|client\|witness\|lan\)\b'; then
		sleep 1
		for ns in "${LAB_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	fi
	case $LAB_DIR in /tmp/*) rm -rf "$LAB_DIR" ;; esac
	return 0
}

# Why the LAB_* settings cannot make a lab (empty when they can); after lab_settings_load.
lab_settings_problem() {
	case $LAB_NODES in
	2) ;;
	3) [ "$LAB_MODE" = primary-replica ] ||
		echo "LAB_NODES=3 needs LAB_MODE=primary-replica, not '$LAB_MODE'" ;;
	*) echo "LAB_NODES must be 2 or 3, not '$LAB_NODES'" ;;
	esac
}

# Builds the lab: network, witness, the MariaDB nodes replicating from db1 (db2 -> db1 too
# in master-master mode), then keepalived on db1 (it takes the VIP) and on the others.
lab_up() {
	local n why nodes replicas
	for b in ka-check-mariadb ka-notify-mariadb ka-watch-mariadb; do
		[ -x "$LAB_BIN/$b" ] || { lab_log "missing $LAB_BIN/$b (make first)"; return 1; }
	done
	lab_down
	lab_settings_load
	why=$(lab_settings_problem)
	[ -z "$why" ] || { lab_log "$why"; return 1; }
	mkdir -p "$LAB_DIR"
	chmod 700 "$LAB_DIR"
	printf '%s\n' "LAB_NODES=$LAB_NODES" "LAB_MODE=$LAB_MODE" "LAB_VRRP_VERSION=$LAB_VRRP_VERSION" \
		"LAB_ADVERT_INT=$LAB_ADVERT_INT" "LAB_UNICAST=$LAB_UNICAST" "LAB_NOTIFY=$LAB_NOTIFY" \
		"LAB_WITNESS=$LAB_WITNESS" "LAB_PROFILE=$LAB_PROFILE" > "$LAB_DIR/settings"
	nodes=$(lab_nodes)
	replicas=$(lab_peers db1)
	lab_log "up: $LAB_NODES nodes, mode $LAB_MODE, profile $LAB_PROFILE, VRRPv$LAB_VRRP_VERSION advert_int $LAB_ADVERT_INT, dir $LAB_DIR"
	lab_net_up || { lab_log "network setup failed"; return 1; }
	lab_witness_up
	lab_db_seed || return 1
	for n in $nodes; do
		mkdir -p "$LAB_DIR/$n"
		cp -a "$LAB_DIR/seed/data" "$LAB_DIR/$n/data"
		lab_db_config "$n" || return 1
		lab_db_launch "$n" || return 1
	done
	for n in $nodes; do lab_db_wait_up "$n" || return 1; done
	lab_accounts || return 1
	for n in $replicas; do lab_replicate "$n" db1 || return 1; done
	for n in $replicas; do lab_wait_synced "$n" db1 || return 1; done
	if [ "$LAB_MODE" = master-master ]; then
		lab_replicate db1 db2 || return 1
	fi
	# shellcheck disable=SC2086 # node names are single words
	lab_ka_config_all $nodes || return 1
	if [ "$LAB_PROFILE" = fast ]; then
		for n in $nodes; do lab_watcher_start "$n" || return 1; done
	fi
	lab_ka_start db1
	lab_wait_vip db1 20 || return 1
	lab_wait_read_only db1 0 20 || return 1
	for n in $replicas; do lab_ka_start "$n"; done
	lab_wait_vip_stays db1 2 || return 1
	lab_log "up: VIP on db1, db1 writable, $replicas replicating"
}

# The VIP must stay on NODE for $2 seconds.
lab_wait_vip_stays() {
	local node=$1 end
	end=$(($(lab_now_ms) + $2 * 1000))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		[ "$(lab_vip_holder)" = "$node" ] || { lab_log "VIP left $node: $(lab_vip_holder)"; return 1; }
		sleep 0.1
	done
}

# Accounts from conf-templates/grants.sql, run once on db1 with binlog on (replicated to
# db2), the lab's drill database, and the client's option file.
lab_accounts() {
	local d=$LAB_DIR/client
	mkdir -p "$d"
	"$LAB_RENDER" --out "$LAB_DIR/grants.sql" grants.sql HA_NET=192.0.2.% APP_NET=192.0.2.% \
		APP_DB=$LAB_DB CHECK_PASSWORD=$LAB_PW_CHECK HA_PASSWORD=$LAB_PW_HA \
		REPL_PASSWORD=$LAB_PW_REPL APP_PASSWORD=$LAB_PW_APP || return 1
	lab_sql db1 "DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES;
		SOURCE $LAB_DIR/grants.sql;
		CREATE DATABASE IF NOT EXISTS $LAB_DB;
		CREATE TABLE IF NOT EXISTS $LAB_DB.writes (id BIGINT PRIMARY KEY, at TIMESTAMP(6)
			DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB;" || return 1
	umask 077
	cat > "$d/app.cnf" <<CNF
[client]
user=app
password=$LAB_PW_APP
CNF
	chmod 600 "$d/app.cnf"
}

# ---- for the bats scenarios -------------------------------------------------------------

# Why the lab cannot run here (empty when it can).
lab_missing() {
	local b
	[ "$(id -u)" = 0 ] || { echo "the lab needs root"; return; }
	for b in keepalived mariadbd mariadb-install-db mariadb ip nft jq make; do
		command -v "$b" >/dev/null || { echo "missing command '$b'"; return; }
	done
	for b in ka-check-mariadb ka-notify-mariadb ka-drill ka-watch-mariadb; do
		[ -x "$LAB_BIN/$b" ] || { echo "missing $LAB_BIN/$b (make first)"; return; }
	done
}

# The longest write outage a drill report shows (ms): the drill's own longest outage, the
# longest switch, the longest gap between acknowledged writes on two servers, and the
# longest single write (a stall that ended without an error is no outage to the drill).
lab_drill_outage_ms() {
	jq '[.longest_outage_ms // 0, .max_write_ms // 0, (.switches[]?.down_ms // 0),
	     (.phases as $p | range(1; ($p | length)) | $p[.].start_ms - $p[. - 1].end_ms)] | max' <<<"$1"
}

# Why a ka-drill report is not a verified, clean round (empty when it is): exactly one JSON
# object with status "OK", verified true, the counts present as numbers (a missing or null
# "lost" is not 0), none lost or duplicated, and at least one write acknowledged. A drill
# that could not reach the primary at the end reports status FAIL, verified false and
# lost 0: lost 0 alone proves nothing.
lab_drill_problem() {
	[ -n "$1" ] || { echo "no report"; return 0; }
	jq -rs 'if length != 1 or (.[0] | type) != "object" then "not one JSON object" else .[0] |
	  if .status != "OK" then
	    "status \(.status) (\(.code_name // "no code_name"): \(.reason // "no reason"))"
	  elif .verified != true then "not verified (verified: \(.verified))"
	  elif ([.attempted, .acknowledged, .lost, .duplicated, .ambiguous] |
	        map(type == "number") | all | not) then
	    "a count is missing or not a number (attempted \(.attempted), acknowledged \(.acknowledged), lost \(.lost), duplicated \(.duplicated), ambiguous \(.ambiguous))"
	  elif .lost != 0 then "\(.lost) acknowledged write(s) lost"
	  elif .duplicated != 0 then "\(.duplicated) write(s) duplicated"
	  elif .acknowledged < 1 then "no write acknowledged"
	  else empty end end' <<<"$1" 2>/dev/null || echo "not JSON"
}

# Succeeds when the ka-drill report $1 is a verified, clean round; else logs why and fails.
lab_drill_verified() {
	local why
	why=$(lab_drill_problem "$1")
	[ -z "$why" ] && return 0
	lab_log "ka-drill round not verified clean: $why"
	return 1
}

# bench/failover's row for one round: "VIP_MS OUTAGE_MS LOST DUPLICATED PROMOTED_MS
# ACKNOWLEDGED" from the drill report $1 and the measured $2 (VIP moved) and $3 (promoted).
# Fails, saying why, unless the report is a verified clean round: an unverified round is a
# failed round, never a round with 0 lost.
lab_bench_row() {
	lab_drill_verified "$1" || return 1
	echo "$2 $(lab_drill_outage_ms "$1") $(jq .lost <<<"$1") $(jq .duplicated <<<"$1") $3 $(jq .acknowledged <<<"$1")"
}

lab_drill_summary() {
	jq -r '"drill: status \(.status), verified \(.verified), attempted \(.attempted), acknowledged \(.acknowledged), lost \(.lost), duplicated \(.duplicated), ambiguous \(.ambiguous), switches \(.switch_count)"' <<<"$1"
	echo "drill: write outage $(lab_drill_outage_ms "$1") ms"
}

# server_id of the server that acknowledged the drill's last writes.
lab_drill_last_server_id() { jq -r '.phases[-1].server_id' <<<"$1"; }

# The positions of NODE (gtid_binlog_pos), for comparisons.
lab_binlog_pos() { lab_sql "$1" "SELECT @@global.gtid_binlog_pos" 5; }

# True when NODE's binlog holds a transaction OTHER never got: for some (domain, server)
# of NODE's @@gtid_binlog_state, OTHER's last sequence number from that server is lower.
# (Comparing gtid_current_pos per domain is not enough: OTHER's own later transactions in
# the same domain hide a diverged one, 0-11-216 against 0-12-1681.)
lab_errant() {
	local mine theirs
	mine=$(lab_sql "$1" "SELECT @@global.gtid_binlog_state" 5) || return 2
	theirs=$(lab_sql "$2" "SELECT @@global.gtid_binlog_state" 5) || return 2
	[ -n "$mine" ] || return 1
	awk -v a="$mine" -v b="$theirs" 'BEGIN {
		n = split(b, B, ","); for (i = 1; i <= n; i++) { split(B[i], p, "-"); hi[p[1] "-" p[2]] = p[3] }
		n = split(a, A, ","); for (i = 1; i <= n; i++) {
			split(A[i], p, "-"); k = p[1] "-" p[2]
			if (!(k in hi) || p[3] + 0 > hi[k] + 0) exit 0 }
		exit 1
	}'
}

lab_no_errant() {
	local rc=0
	lab_errant "$1" "$2" || rc=$?
	[ "$rc" = 1 ]
}

# Checksums of every table in the lab database on NODE, one "table checksum" per line.
# Fails (printing nothing) when a query fails or the lab database has no table.
lab_table_checksums() {
	local tables
	tables=$(lab_sql "$1" "SELECT GROUP_CONCAT(CONCAT('$LAB_DB.', table_name) ORDER BY table_name)
		FROM information_schema.tables WHERE table_schema='$LAB_DB'" 10) || return 1
	[ -n "$tables" ] && [ "$tables" != NULL ] || return 1
	lab_sql "$1" "CHECKSUM TABLE $tables EXTENDED" 20
}

# NODE and OTHER hold equal tables: both checksum lists were read, are not empty, carry no
# NULL (CHECKSUM TABLE of a missing table) and are equal. Logs which condition failed.
lab_checksums_equal() {
	local a b
	a=$(lab_table_checksums "$1") || { lab_log "no checksums from $1"; return 1; }
	b=$(lab_table_checksums "$2") || { lab_log "no checksums from $2"; return 1; }
	if [ -z "$a" ] || [ -z "$b" ] || [[ $a$b == *NULL* ]]; then
		lab_log "unusable checksums: $1 '$a', $2 '$b'"
		return 1
	fi
	[ "$a" = "$b" ] || { lab_log "checksums differ: $1 '$a', $2 '$b'"; return 1; }
}

# Which node is writable: db1, db2 (db3), none or "db1 db2".
lab_writable() {
	local n out=""
	for n in $(lab_nodes); do
		[ "$(lab_read_only "$n" 2>/dev/null)" = 0 ] && out+="${out:+ }$n"
	done
	echo "${out:-none}"
}

# Master_Host of NODE's default replication connection (empty when none).
lab_source_of() {
	timeout 10 mariadb --no-defaults -uroot -S "$(lab_sock "$1")" -e "SHOW SLAVE STATUS\G" 2>/dev/null |
		awk '/ Master_Host:/ { print $2 }'
}

# keepalived's state of NODE from its log: the last "Entering X STATE" line.
lab_ka_state() {
	grep -o 'Entering [A-Z]* STATE' "$LAB_DIR/$1/keepalived.log" 2>/dev/null | tail -1 |
		awk '{ print $2 }'
}

# Lines in NODE's keepalived log so far (a mark for lab_ka_states_since).
lab_ka_log_mark() { wc -l < "$LAB_DIR/$1/keepalived.log" 2>/dev/null || echo 0; }

# True when NODE's keepalived logged a line matching $3 after log line $2.
lab_ka_logged_since() {
	tail -n "+$(($2 + 1))" "$LAB_DIR/$1/keepalived.log" 2>/dev/null | grep -q -- "$3"
}

# The states NODE's keepalived entered after log line $2, in order, one per line.
lab_ka_states_since() {
	tail -n "+$(($2 + 1))" "$LAB_DIR/$1/keepalived.log" 2>/dev/null |
		grep -o 'Entering [A-Z]* STATE' | awk '{ print $2 }'
}

# Polls "$@" every 0.2 s until it succeeds or $1 seconds pass.
lab_wait_for() {
	local limit=$1 end
	shift
	end=$(($(lab_now_ms) + limit * 1000))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	lab_log "not true within ${limit}s: $*"
	return 1
}

# NODE replicates from SOURCE with both threads running.
lab_is_replica_of() {
	[ "$(lab_source_of "$1")" = "${LAB_IP[$2]}" ] && [ "$(lab_repl_threads "$1")" = "Yes Yes" ]
}

# Every database node but PRIMARY whose mariadbd runs ("$@" skipped too), one line.
lab_running_replicas() {
	local primary=$1 n out=""
	shift
	for n in $(lab_peers "$primary"); do
		[[ " $* " == *" $n "* ]] && continue
		lab_db_running "$n" && out+="${out:+ }$n"
	done
	echo "$out"
}

# Every running node but PRIMARY (and the nodes "${@:2}") replicates from PRIMARY with both
# threads running.
lab_survivors_replicate_from() {
	local n
	for n in $(lab_running_replicas "$@"); do lab_is_replica_of "$n" "$1" || return 1; done
}

# Every node of "$@" holds the same tables as the first (lab_checksums_equal pairwise).
lab_checksums_all_equal() {
	local first=$1 n
	shift
	for n in "$@"; do lab_checksums_equal "$first" "$n" || return 1; done
}

# Fails (and says so) when the VIP is on NODE right now.
lab_vip_not_on() { [[ " $(lab_vip_holder) " != *" $1 "* ]]; }

# True when NODE never holds the VIP for the next MS milliseconds (looks every 0.2 s).
lab_vip_never_on() {
	local node=$1 end=$(($(lab_now_ms) + $2))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		lab_vip_not_on "$node" || { lab_log "the VIP is on $node"; return 1; }
		sleep 0.2
	done
}

# Best-effort actions: a failing step inside must not abort a bats test half-way (errexit
# is off inside a function called from an || list), the outcome is checked by the caller.
lab_down() { _lab_down || true; }
lab_ka_kill() { _lab_ka_kill "$@" || true; }
lab_db_kill() { _lab_db_kill "$@" || true; }
lab_ka_stop() { _lab_ka_stop "$@" || true; }
lab_drill_wait() { _lab_drill_wait "$@" || true; }
lab_watcher_kill() { _lab_watcher_kill "$@" || true; }

# ---- timeline observations --------------------------------------------------------------

# Polls where the VIP is every 20 ms in the background; logs "EPOCH_MS HOLDER" on change.
lab_watch_start() {
	local f=$LAB_DIR/watch.log
	: > "$f"
	(
		exec 3>&-
		last="" end=$(($(lab_now_ms) + ${1:-300} * 1000))
		while [ "$(lab_now_ms)" -lt "$end" ] && [ -d "$LAB_DIR" ]; do
			h=$(lab_vip_holder)
			[ "$h" != "$last" ] && { echo "$(lab_now_ms) $h" >> "$f"; last=$h; }
			sleep 0.02
		done
	) &
	echo $! > "$LAB_DIR/watch.pid"
	disown $! 2>/dev/null || true
}

lab_watch_stop() {
	local pid
	pid=$(cat "$LAB_DIR/watch.pid" 2>/dev/null)
	# The watcher runs in the root namespace: end it only while it is still our child.
	if lab_pid_alive "$pid" && [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$$" ]; then
		kill "$pid" 2>/dev/null
	fi
	rm -f "$LAB_DIR/watch.pid"
	return 0
}

# First time (epoch ms) at or after $2 when the VIP holder was $1, from the watch log.
lab_watch_first() {
	awk -v h="$1" -v t="$2" '{ holder = $2; for (i = 3; i <= NF; i++) holder = holder " " $i }
		$1 >= t && holder == h { print $1; exit }' "$LAB_DIR/watch.log"
}

# ISO time of a journal line -> epoch ms.
lab_iso_ms() { date -d "$1" +%s%3N 2>/dev/null; }

# Start and end (epoch ms) of NODE's first journal run for EVENT at or after $3 (epoch ms),
# with its decision (or the journal field $4): "START END DECISION". Empty when none.
lab_journal_run() {
	local node=$1 ev=$2 after=$3 field=${4:-.decision} line t el end
	while IFS= read -r line; do
		[ "$(jq -r .event <<<"$line")" = "$ev" ] || continue
		t=$(jq -r .time <<<"$line")
		el=$(jq -r '.elapsed_ms // 0' <<<"$line")
		end=$(lab_iso_ms "$t") || continue
		[ "$end" -ge "$after" ] || continue
		echo "$((end - el)) $end $(jq -r "$field" <<<"$line")"
		return 0
	done < <(lab_journal "$node")
}

# After db1 lost the VIP to db2 and came back: db1 either rejoins db2 (checksums equal), or
# -- when its binlog kept a transaction that was in flight when it was cut off, never
# acknowledged to the client (AFTER_SYNC writes the binlog before the replica has it) --
# ka-notify-mariadb refuses the rejoin (errant GTIDs, exit 9): db1 stays read-only and out
# of the VIP for an operator. Either is correct; anything else fails. $1 is the number of
# the drill's ambiguous writes (a refusal needs at least one in-flight write to explain it).
# Prints "rejoined" or "refused".
lab_rejoined_or_refused() {
	local ambiguous=${1:-0} end
	end=$(($(lab_now_ms) + 40000))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		lab_vip_not_on db1 || { lab_log "db1 holds the VIP again"; return 1; }
		if lab_is_replica_of db1 db2; then
			lab_wait_synced db1 db2 30 || return 1
			lab_no_errant db1 db2 || { lab_log "db1 replicates but holds errant GTIDs"; return 1; }
			lab_checksums_equal db1 db2 || { lab_log "after the rejoin"; return 1; }
			echo rejoined
			return 0
		fi
		if lab_journal db1 | grep -q '"decision":"rejoin-diverged"'; then
			lab_errant db1 db2 || { lab_log "rejoin refused but no errant GTID found"; return 1; }
			[ "$ambiguous" -ge 1 ] ||
				{ lab_log "db1 diverged without any in-flight write to explain it"; return 1; }
			[ "$(lab_read_only db1)" = 1 ] || { lab_log "diverged db1 is writable"; return 1; }
			lab_log "db1 kept an unacknowledged transaction ($(lab_sql db1 'SELECT @@gtid_binlog_state' 5) vs $(lab_sql db2 'SELECT @@gtid_binlog_state' 5)): rejoin refused, stays read-only"
			echo refused
			return 0
		fi
		sleep 0.3
	done
	lab_log "db1 neither rejoined nor was refused within 40 s"
	return 1
}

# The journal line of NODE's first run for EVENT whose end is at or after $3 (epoch ms).
lab_journal_entry() {
	local node=$1 ev=$2 after=$3 line end
	while IFS= read -r line; do
		[ "$(jq -r .event <<<"$line")" = "$ev" ] || continue
		end=$(lab_iso_ms "$(jq -r .time <<<"$line")") || continue
		[ "$end" -ge "$after" ] && { echo "$line"; return 0; }
	done < <(lab_journal "$node")
	return 1
}

# When the last step of journal line $1 whose name matches the regex $2 ended (epoch ms):
# the run's start (time - elapsed_ms) plus the durations of the steps up to that one. Gaps
# between steps are not counted (earlier than the real end); steps a run did in parallel
# (probes, repoints: a thread each) are (later). Fails when no step matches.
lab_step_end_ms() {
	local end at
	end=$(lab_iso_ms "$(jq -r .time <<<"$1")") || return 1
	at=$(jq -r --arg re "$2" '
		reduce (.steps // [])[] as $x ({sum: 0, at: null};
			.sum += ($x.duration_ms // 0) |
			if ($x.step | test($re)) then .at = .sum else . end) |
		.at // empty' <<<"$1") || return 1
	[ -n "$at" ] || return 1
	echo $((end - $(jq -r '.elapsed_ms // 0' <<<"$1") + at))
}

# The names of the steps of journal line $1 whose result is $2 and whose name matches the
# regex $3, one per line, in order.
lab_steps() {
	jq -r --arg res "$2" --arg re "$3" \
		'(.steps // [])[] | select(.result == $res and (.step | test($re))) | .step' <<<"$1"
}

# Waits up to $2 s until the VIP is on one node other than $1 and that node is writable;
# prints it.
lab_wait_new_primary() {
	local old=$1 limit=${2:-20} end h
	end=$(($(lab_now_ms) + limit * 1000))
	while [ "$(lab_now_ms)" -lt "$end" ]; do
		h=$(lab_vip_holder)
		if [[ $h == db[0-9] ]] && [ "$h" != "$old" ] &&
			[ "$(lab_read_only "$h" 2>/dev/null)" = 0 ]; then
			echo "$h"
			return 0
		fi
		sleep 0.05
	done
	lab_log "no writable VIP holder other than $old within ${limit}s (VIP on: $(lab_vip_holder))"
	return 1
}

# ---- bats glue shared by every scenario file ---------------------------------------------

# setup_file: skips when a tool or binary is missing, else brings the lab up (with the
# LAB_* settings the caller exported); on failure shows why and removes it again.
lab_setup_file() {
	local why
	why=$(lab_missing)
	[ -z "$why" ] || skip "$why"
	lab_up || { lab_diagnose; lab_down; return 1; }
}

# teardown of each test: the lab's state when a test failed.
lab_teardown_test() { [ -n "${BATS_TEST_COMPLETED:-}" ] || lab_diagnose; }
