#!/bin/bash
# proxysql.sh: provisions one node of the optional ProxySQL pair: ProxySQL 2.7 from the
# ProxySQL project's apt repository (it is not packaged in Debian), routing the application
# account to whichever db node is writable (mysql_replication_hostgroups on read_only: the
# ka-mariadb pair has exactly one), and keepalived with conf-templates' keepalived-proxysql
# (MASTER 100 / BACKUP 90, ka-check-proxysql: the writer hostgroup has an ONLINE server)
# holding the ProxySQL VIP. The two ProxySQL nodes form a ProxySQL cluster.
#
# Unlike the db nodes there is no namespace-lab counterpart (ProxySQL is not in Debian,
# the test suite uses a stand-in): this part is not exercised by the tests.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STAGE=$VG_ETC/.rendered
PROXYSQL_SERIES=2.7.x
KEYRING=/etc/apt/keyrings/proxysql-$PROXYSQL_SERIES.gpg
KEEPALIVED_CONF=/etc/keepalived/keepalived.conf

main() {
	vg_write_node_vars "$@"
	[ "${V[KIND]:-}" = proxysql ] || vg_die "proxysql.sh is for KIND=proxysql nodes, got '${V[KIND]:-}'"
	vg_check_interface
	vg_apt_install keepalived mariadb-client ca-certificates wget jq
	proxysql_install
	vg_install_binaries
	proxysql_configure
	proxysql_keepalived
	proxysql_summary
}

# ProxySQL from repo.proxysql.com (the project's instructions), key in its own keyring.
proxysql_install() {
	local codename keyring=$KEYRING
	dpkg-query -W -f='${Status}' proxysql 2>/dev/null | grep -q "install ok installed" && return 0
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	install -d -m 0755 /etc/apt/keyrings
	wget -nv -O "$KEYRING.tmp" "https://repo.proxysql.com/ProxySQL/proxysql-$PROXYSQL_SERIES/repo_pub_key.gpg" ||
		vg_die "cannot fetch the ProxySQL repository key"
	# apt takes a binary keyring as .gpg and an armored one as .asc.
	[ "$(head -c 5 "$KEYRING.tmp")" = "-----" ] && keyring=${KEYRING%.gpg}.asc
	mv -f "$KEYRING.tmp" "$keyring"
	chmod 644 "$keyring"
	echo "deb [signed-by=$keyring] https://repo.proxysql.com/ProxySQL/proxysql-$PROXYSQL_SERIES/$codename/ ./" \
		> /etc/apt/sources.list.d/proxysql.list
	vg_apt_install proxysql
}

# /etc/proxysql.cnf: ProxySQL reads it only when its database does not exist yet, so a
# changed file means: stop, remove the database, start.
proxysql_configure() {
	local owner=root:root mode=0644
	if getent group proxysql >/dev/null; then owner=root:proxysql mode=0640; fi
	if proxysql_cnf | vg_write_file /etc/proxysql.cnf "$mode" "$owner"; then
		systemctl stop proxysql || true
		rm -f /var/lib/proxysql/proxysql.db
		vg_log "ProxySQL configuration (re)loaded from /etc/proxysql.cnf"
	fi
	systemctl enable --quiet proxysql
	systemctl start proxysql
	# ka-check-proxysql's option file: the local admin account (FACTS 37: admin logs in
	# from localhost only).
	vg_write_file "${V[PROXYSQL_CNF]}" 0600 <<CNF || true
# ProxySQL admin account for ka-check-proxysql on this node (mode 0600, owner root).
[client]
user=admin
password=${V[PROXYSQL_ADMIN_PASSWORD]}
CNF
}

# The ProxySQL configuration of this node (libconfig syntax).
proxysql_cnf() {
	local ip n=0 sep
	local -a ips
	cat <<CNF
# /etc/proxysql.cnf of ${V[NODE_NAME]}, written by vagrant/provision/proxysql.sh. Read only
# when /var/lib/proxysql/proxysql.db does not exist (the provisioning removes it on change).
datadir="/var/lib/proxysql"

admin_variables=
{
	admin_credentials="admin:${V[PROXYSQL_ADMIN_PASSWORD]};radmin:${V[PROXYSQL_CLUSTER_PASSWORD]}"
	mysql_ifaces="0.0.0.0:6032"
	cluster_username="radmin"
	cluster_password="${V[PROXYSQL_CLUSTER_PASSWORD]}"
}

mysql_variables=
{
	threads=2
	max_connections=1024
	interfaces="0.0.0.0:6033"
	# The checker's account (grants.sql: SLAVE MONITOR) reads read_only and replication.
	monitor_username="ka_check"
	monitor_password="${V[CHECK_PASSWORD]}"
	monitor_read_only_interval=1000
	monitor_read_only_timeout=800
	monitor_connect_interval=2000
	monitor_ping_interval=2000
}

# Both db nodes; the monitor keeps the writable one (read_only=0) in the writer hostgroup.
mysql_servers=
(
CNF
	IFS=, read -ra ips <<<"${V[DB_IPS]}"
	for ip in "${ips[@]}"; do
		n=$((n + 1)); sep=,; [ "$n" = "${#ips[@]}" ] && sep=""
		printf '\t{ address="%s", port=3306, hostgroup=%s, comment="db%s" }%s\n' \
			"$ip" "${V[WRITER_HOSTGROUP]}" "$n" "$sep"
	done
	cat <<CNF
)

mysql_replication_hostgroups=
(
	{ writer_hostgroup=${V[WRITER_HOSTGROUP]}, reader_hostgroup=${V[READER_HOSTGROUP]}, check_type="read_only", comment="ka-mariadb pair" }
)

mysql_users=
(
	{ username="app", password="${V[APP_PASSWORD]}", default_hostgroup=${V[WRITER_HOSTGROUP]}, active=1 }
)

# The cluster, in the same order on both nodes (role master first).
proxysql_servers=
(
CNF
	if [ "${V[ROLE]}" = master ]; then
		proxysql_server "${V[NODE_IP]}" "${V[NODE_NAME]}" ,
		proxysql_server "${V[PEER_IP]}" "${V[PEER_NAME]}" ""
	else
		proxysql_server "${V[PEER_IP]}" "${V[PEER_NAME]}" ,
		proxysql_server "${V[NODE_IP]}" "${V[NODE_NAME]}" ""
	fi
	echo ")"
}

proxysql_server() { printf '\t{ hostname="%s", port=6032, weight=0, comment="%s" }%s\n' "$1" "$2" "$3"; }

# keepalived-proxysql, rendered by render-node and checked with keepalived -t here.
proxysql_keepalived() {
	rm -rf "$STAGE"
	install -d -m 0700 "$STAGE"
	vg_render_node "$VG_NODE_VARS" "$STAGE" >/dev/null || vg_die "render failed for $VG_NODE"
	if vg_keepalived_dropin proxysql.service; then systemctl daemon-reload; fi
	systemctl enable --quiet keepalived
	if vg_install_file "$STAGE/keepalived.conf" "$KEEPALIVED_CONF" 644 &&
		systemctl is-active --quiet keepalived; then
		systemctl reload keepalived
	else
		systemctl is-active --quiet keepalived || systemctl start keepalived
	fi
}

proxysql_summary() {
	local out
	out=$("${V[KA_BIN]}/ka-check-proxysql" --defaults-file "${V[PROXYSQL_CNF]}" \
		--writer-hostgroup "${V[WRITER_HOSTGROUP]}" --timeout 3000 2>&1) || true
	vg_log "ka-check-proxysql: $out"
	vg_log "the ProxySQL VIP is ${V[VIP]}:6033 (vagrant ssh client -c 'ka-drill --hosts ${V[VIP]}:6033 ...')"
}

main "$@"
