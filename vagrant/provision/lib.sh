# shellcheck shell=bash
# lib.sh: what the Vagrant lab's provisioning scripts share (sourced by db.sh, client.sh,
# witness.sh, proxysql.sh and render-node). They run as root on Debian 12 VMs, with the
# repository rsync'ed to /ka-mariadb and the node's values as KEY=VALUE arguments from the
# Vagrantfile.
#
# One source of truth with the namespace lab (tests/helpers/lab.bash): the configs come
# from conf-templates/render with the lab's variable names and values (vg_render_node is
# the lab's lab_db_config + lab_ka_config render calls); the SQL is the lab's
# (vg_accounts_sql is lab_accounts, vg_replicate_sql is lab_replicate). Only the paths
# differ: the lab keeps everything in a temp dir, a VM uses the real ones below.
# tests/unit/vagrant.bats renders both and diffs them.

VG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VG_RENDER=$VG_REPO/conf-templates/render
VG_SECRETS=$VG_REPO/vagrant/.secrets
VG_ETC=/etc/ka-mariadb
VG_STATE=/var/lib/ka-mariadb-vagrant      # markers and logs of the provisioning itself
VG_BUILD=/var/cache/ka-mariadb/build      # the VM's build dir (the synced repo stays clean)
VG_SOCK=/run/mysqld/mysqld.sock
VG_NODE_VARS=$VG_ETC/node.vars
VG_PREBUILT=/ka-mariadb-bin               # host-built binaries, when the Vagrantfile syncs them
VG_BINARIES=(ka-check-mariadb ka-check-proxysql ka-notify-mariadb ka-drill ka-status ka-watch-mariadb)

# The VM's paths, in the lab's variable names (lab_vars points them into its temp dir).
# They are conf-templates/render's defaults, written out so node.vars says everything.
VG_DB_PATHS=(
	KA_BIN=/usr/local/libexec/ka-mariadb
	KA_CNF=/etc/ka-mariadb/ka.cnf
	MYSQL_SOCKET=/run/mysqld/mysqld.sock
	STATE_DIR=/var/lib/ka-mariadb
	FAULT_FILE=/var/lib/ka-mariadb/fault
	NOTIFY_FIFO_PATH=/run/ka-mariadb/notify.fifo
	WATCH_FILE=/run/ka-mariadb/watch-db
)
VG_PROXYSQL_PATHS=(
	KA_BIN=/usr/local/libexec/ka-mariadb
	PROXYSQL_CNF=/etc/ka-mariadb/proxysql.cnf
)
VG_OTHER_PATHS=(
	KA_BIN=/usr/local/libexec/ka-mariadb
)

vg_log() { printf 'ka-vagrant %s: %s\n' "${VG_NODE:-$(hostname)}" "$*" >&2; }
vg_die() { vg_log "error: $*"; exit 1; }

# Milliseconds since the epoch, without a fork.
vg_now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# ---- the node's values ------------------------------------------------------------------

# Prints a node's vars file: the KEY=VALUE arguments (the Vagrantfile's values), the VM's
# paths for its KIND (unless an argument gave one), then the passwords from SECRETS.
# Refuses an argument that is not KEY=VALUE and a SECRETS file that cannot be read.
vg_node_vars() {
	local secrets=$1 a kind="" line
	shift
	local -A given=()
	local -a paths
	for a in "$@"; do
		[[ $a =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || { vg_log "malformed argument '$a': expected KEY=VALUE"; return 1; }
		given[${BASH_REMATCH[1]}]=1
		[ "${BASH_REMATCH[1]}" = KIND ] && kind=${BASH_REMATCH[2]}
	done
	case $kind in
	db) paths=("${VG_DB_PATHS[@]}") ;;
	proxysql) paths=("${VG_PROXYSQL_PATHS[@]}") ;;
	client|witness) paths=("${VG_OTHER_PATHS[@]}") ;;
	*) vg_log "unknown node KIND '$kind' (db, proxysql, client, witness)"; return 1 ;;
	esac
	[ -r "$secrets" ] || { vg_log "cannot read the passwords file '$secrets' (the Vagrantfile creates it at 'vagrant up'; then 'vagrant rsync')"; return 1; }
	echo "# Values of this node: the Vagrantfile's, the VM's paths, the passwords."
	echo "# Written by vagrant/provision; the configs are rendered from it (render-node)."
	printf '%s\n' "$@"
	for a in "${paths[@]}"; do
		[ -n "${given[${a%%=*}]:-}" ] || echo "$a"
	done
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^[A-Z][A-Z0-9_]*= ]] && echo "$line"
	done < "$secrets"
	return 0
}

# Prints the value of KEY in a vars file (the last one wins, as in render), or nothing.
vg_var() {
	local file=$1 key=$2 line v=""
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line == "$key="* ]] && v=${line#*=}
	done < "$file"
	printf '%s' "$v"
}

# Loads a vars file into the global associative array V.
vg_load_vars() {
	local line
	declare -gA V=()
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] && V[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
	done < "$1"
	VG_NODE=${V[NODE_NAME]:-}
}

# Writes the node's vars file (0600: it holds the passwords) and loads it.
vg_write_node_vars() {
	local tmp
	install -d -m 0755 -o root -g root "$VG_ETC"
	install -d -m 0700 -o root -g root "$VG_STATE"
	tmp=$(mktemp "$VG_ETC/.node.vars.XXXXXX")
	vg_node_vars "$VG_SECRETS" "$@" > "$tmp" || { rm -f "$tmp"; vg_die "cannot compose $VG_NODE_VARS"; }
	chmod 600 "$tmp"
	mv -f "$tmp" "$VG_NODE_VARS"
	vg_load_vars "$VG_NODE_VARS"
}

# ---- rendering --------------------------------------------------------------------------

# Renders a node's configs from its vars file into OUTDIR with conf-templates/render, the
# lab's templates and calls: KIND=db: keepalived.conf (keepalived-MODE), ka.cnf,
# mariadb-ha.cnf, grants.sql; KIND=proxysql: keepalived.conf (keepalived-proxysql).
# keepalived.conf is checked with `keepalived -t` (the interface must exist) unless
# --no-validate. Prints render's timing line. Returns render's exit code on failure.
vg_render_node() {
	local -a check=()
	local vars out kind mode rc=0
	if [ "${1:-}" = --no-validate ]; then check=(--no-validate); shift; fi
	[ $# = 2 ] || { vg_log "usage: render-node [--no-validate] VARS_FILE OUTDIR"; return 64; }
	vars=$1 out=$2
	[ -r "$vars" ] || { vg_log "cannot read vars file '$vars'"; return 78; }
	kind=$(vg_var "$vars" KIND) mode=$(vg_var "$vars" MODE)
	mkdir -p "$out" || return 78
	# A clean environment: render also reads values from the environment.
	case $kind in
	db)
		vg_render_one "$vars" "$out/keepalived.conf" "keepalived-${mode:-primary-replica}" "${check[@]}" &&
			vg_render_one "$vars" "$out/ka.cnf" ka.cnf --quiet &&
			vg_render_one "$vars" "$out/mariadb-ha.cnf" mariadb-ha.cnf --quiet &&
			vg_render_one "$vars" "$out/grants.sql" grants.sql --quiet || rc=$? ;;
	proxysql)
		vg_render_one "$vars" "$out/keepalived.conf" keepalived-proxysql "${check[@]}" || rc=$? ;;
	*)
		vg_log "vars file '$vars': KIND '$kind' has no configs to render (db, proxysql)"
		rc=78 ;;
	esac
	return $rc
}

# render --vars VARS --out OUT [OPTIONS...] TEMPLATE, in a clean environment.
vg_render_one() {
	local vars=$1 out=$2 template=$3
	shift 3
	env -i PATH="$PATH" "$VG_RENDER" --vars "$vars" --out "$out" "$@" "$template"
}

# ---- packages, binaries, files ----------------------------------------------------------

# Installs the Debian packages that are missing (no recommends). Idempotent.
vg_apt_install() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return 0
	vg_log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || vg_die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		vg_die "apt-get install ${missing[*]} failed"
}

# Builds the binaries from the synced repository on this VM (static, like `make`) into
# VG_BUILD and installs them with `make install` into KA_BIN (root-owned, atomic rename).
# Built here rather than copied from the host's build/: the host may not be Linux or not
# x86_64, and the binaries then link this VM's own libmariadb.
vg_install_binaries() {
	local bin=${V[KA_BIN]} log=$VG_STATE/make.log
	if [ -x "$VG_PREBUILT/ka-check-mariadb" ]; then
		vg_install_prebuilt "$bin"
		return 0
	fi
	vg_apt_install build-essential pkg-config libmariadb-dev
	vg_log "building and installing the ka-mariadb binaries into $bin"
	mkdir -p "$VG_BUILD"
	if ! make -C "$VG_REPO" --no-print-directory BUILD="$VG_BUILD" LIBEXEC="$bin" install \
		>"$log" 2>&1; then
		tail -25 "$log" >&2
		vg_die "make install failed (whole log: $log)"
	fi
	vg_secure_path "$bin"
}

# Installs the host-built static binaries of VG_PREBUILT (the Vagrantfile's
# KA_VAGRANT_BINARIES) into DIR, root-owned, each by atomic rename.
vg_install_prebuilt() {
	local dir=$1 b
	vg_log "installing the host-built ka-mariadb binaries of $VG_PREBUILT into $dir"
	install -d -m 0755 -o root -g root "$dir"
	for b in "${VG_BINARIES[@]}"; do
		[ -f "$VG_PREBUILT/$b" ] || vg_die "'$VG_PREBUILT/$b' is missing (KA_VAGRANT_BINARIES: a make BUILD= dir)"
		install -o root -g root -m 0755 "$VG_PREBUILT/$b" "$dir/.$b.new"
		mv -f "$dir/.$b.new" "$dir/$b"
	done
	vg_secure_path "$dir"
}

# keepalived's script security (FACTS 6) disables a check whose path has a component that
# is not root-owned or is writable by group or others: make every component safe.
vg_secure_path() {
	local p=$1
	while [ -n "$p" ] && [ "$p" != / ]; do
		if [ -d "$p" ] || [ -f "$p" ]; then
			if [ "$(stat -c %u "$p")" != 0 ]; then
				vg_log "chown root $p (keepalived script security)"
				chown root "$p"
			fi
			if [ -k "$p" ]; then
				vg_die "'$1' is under '$p', a shared sticky directory: keepalived would disable its scripts"
			fi
			if [ -n "$(find "$p" -maxdepth 0 -perm /022)" ]; then
				vg_log "chmod go-w $p (keepalived script security)"
				chmod go-w "$p"
			fi
		fi
		p=$(dirname "$p")
	done
}

# The interface named INTERFACE must carry NODE_IP: keepalived puts the VIP there.
vg_check_interface() {
	local ifname=${V[INTERFACE]} ip=${V[NODE_IP]} found
	ip -4 -o addr show dev "$ifname" 2>/dev/null | awk -v ip="$ip" '
		{ split($4, a, "/"); if (a[1] == ip) ok = 1 } END { exit !ok }' && return 0
	found=$(ip -4 -o addr show | awk -v ip="$ip" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
	if [ -n "$found" ]; then
		vg_die "INTERFACE '$ifname' does not carry $ip, '$found' does: set INTERFACE = \"$found\" in vagrant/Vagrantfile, then 'vagrant provision'"
	fi
	vg_die "no interface carries $ip (the private network of the Vagrantfile)"
}

# Installs SRC as DST (mode MODE, owner OWNER, default root:root) by atomic rename when
# the content or mode differs. Returns 0 when DST changed, 1 when it was already so.
vg_install_file() {
	local src=$1 dst=$2 mode=$3 owner=${4:-root:root} tmp
	if [ -f "$dst" ] && cmp -s "$src" "$dst" &&
		[ "$(stat -c %a "$dst")" = "$(printf '%o' "$((8#$mode))")" ] &&
		[ "$(stat -c %U:%G "$dst")" = "$owner" ]; then
		return 1
	fi
	mkdir -p "$(dirname "$dst")"
	tmp=$(mktemp "$(dirname "$dst")/.ka-vagrant.XXXXXX")
	cat "$src" > "$tmp"
	chown "$owner" "$tmp"
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$dst"
	vg_log "installed $dst"
	return 0
}

# Writes text from stdin to DST (see vg_install_file). Returns 0 when DST changed.
vg_write_file() {
	local dst=$1 mode=$2 owner=${3:-root:root} tmp rc=0
	tmp=$(mktemp)
	cat > "$tmp"
	vg_install_file "$tmp" "$dst" "$mode" "$owner" || rc=$?
	rm -f "$tmp"
	return $rc
}

# /run/ka-mariadb (keepalived's notify FIFO) and /var/lib/ka-mariadb (ka-notify-mariadb's
# lock, journal and fault file), also after a reboot.
vg_state_dirs() {
	vg_write_file /etc/tmpfiles.d/ka-mariadb.conf 0644 <<'EOF' || true
# ka-mariadb (vagrant/provision): keepalived's notify FIFO; ka-notify-mariadb's state.
d /run/ka-mariadb     0700 root root -
d /var/lib/ka-mariadb 0700 root root -
EOF
	systemd-tmpfiles --create /etc/tmpfiles.d/ka-mariadb.conf
}

# keepalived starts after SERVICE and pulls it in -- but is not bound to it: when the
# service stops, keepalived must keep running so that its check fails and the VIP moves.
# A keepalived killed by a signal is restarted after 5 s (it drops a stale VIP, comes up
# BACKUP and nopreempt keeps it there). Returns 0 when the drop-in changed.
vg_keepalived_dropin() {
	local service=$1
	vg_write_file /etc/systemd/system/keepalived.service.d/ka-mariadb.conf 0644 <<EOF
# ka-mariadb (vagrant/provision): keepalived checks the local $service with the ka-mariadb
# binaries, so it starts after it and pulls it in. Wants=, not Requires=/BindsTo=: when
# $service stops, keepalived must stay up so that its check fails and the VIP moves.
[Unit]
After=$service
Wants=$service

[Service]
# Killed by a signal (the lab's "keepalived SIGKILL"): back after 5 s, as BACKUP; the
# restart also drops a VIP the killed instance left on the interface.
Restart=on-abnormal
RestartSec=5s
EOF
}

# Writes a wrapper script NAME in /usr/local/sbin that runs COMMAND... "$@".
vg_wrapper() {
	local name=$1 what=$2
	shift 2
	vg_write_file "/usr/local/sbin/$name" 0755 <<EOF || true
#!/bin/sh
# $name: $what
# Written by vagrant/provision from this node's rendered keepalived.conf.
exec $* "\$@"
EOF
}

# Polls "$@" every 0.5 s until it succeeds or LIMIT seconds pass; says what it waits for
# every 30 s. Returns 1 on timeout.
vg_wait_for() {
	local limit=$1 what=$2 end next
	shift 2
	end=$(($(vg_now_ms) + limit * 1000))
	next=$(($(vg_now_ms) + 30000))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(vg_now_ms)" -lt "$end" ] || { vg_log "gave up after ${limit}s: $what"; return 1; }
		if [ "$(vg_now_ms)" -ge "$next" ]; then
			vg_log "still waiting: $what"
			next=$(($(vg_now_ms) + 30000))
		fi
		sleep 0.5
	done
}

# ---- MariaDB ----------------------------------------------------------------------------

# Runs SQL from stdin (or -e SQL) on the local server as root over its socket (-N -B).
vg_sql() {
	timeout -k 1 120 mariadb --no-defaults -uroot -S "$VG_SOCK" -N -B --connect-timeout=5 "$@"
}

# Runs SQL from stdin (or -e SQL) on the peer over TCP with the HA account of ka.cnf.
vg_peer_sql() {
	timeout -k 1 20 mariadb --defaults-file="${V[KA_CNF]}" -h "${V[PEER_IP]}" -P 3306 -N -B \
		--connect-timeout=3 "$@"
}

# The lab's accounts step (lab_accounts), run once on the first primary with the binary log
# on, so the replica receives the accounts through replication (grants.sql says why): the
# anonymous accounts go, the rendered grants.sql is sourced, the application's database is
# created. (The lab also creates its own checksum table; the VMs do not need it.)
vg_accounts_sql() {
	local grants=$1 db=$2
	cat <<SQL
DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES;
SOURCE $grants;
CREATE DATABASE IF NOT EXISTS $db;
SQL
}

# The lab's replication step (lab_replicate): GTID replication from SOURCE_IP as the repl
# account; a node with binlogged transactions of its own starts after them.
vg_replicate_sql() {
	local src=$1 pw=$2
	cat <<SQL
SET GLOBAL gtid_slave_pos=@@global.gtid_binlog_pos;
CHANGE MASTER TO MASTER_HOST='$src', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='$pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
SQL
}

# True when the local server's replication runs with both threads (the lab's test).
vg_replicating() {
	[ "$(vg_sql -e "SELECT 1 FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='SLAVE_RUNNING' AND VARIABLE_VALUE='ON'")" = 1 ]
}

# True when the local server has a replication connection configured (running or not).
vg_has_replication() { [ -n "$(vg_sql -e 'SHOW ALL SLAVES STATUS')" ]; }

vg_local_read_only() { vg_sql -e 'SELECT @@global.read_only'; }
vg_local_writable() { [ "$(vg_local_read_only)" = 0 ]; }

# True when the peer answers over TCP (HA account) and is writable: a primary.
vg_peer_writable() { [ "$(vg_peer_sql -e 'SELECT @@global.read_only' 2>/dev/null)" = 0 ]; }

# True when the VIP is on this node's interface.
vg_has_vip() {
	ip -4 -o addr show dev "${V[INTERFACE]}" | awk -v ip="${V[VIP]}" '
		{ split($4, a, "/"); if (a[1] == ip) ok = 1 } END { exit !ok }'
}
