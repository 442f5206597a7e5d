# A STAND-IN for ProxySQL, not ProxySQL: ProxySQL is not packaged in Debian (FACTS 38).
#
# The stand-in is a real mariadbd (tests/helpers/mariadb.bash) holding a database `main`
# with the shapes of ProxySQL 2.7's admin tables (docs/proxysql-admin-tables.sql,
# SQLite types translated to MariaDB's) and an admin account radmin/radminpw that may
# only SELECT from main.*. ka-check-proxysql talks to it exactly as to ProxySQL's admin
# port 6032: text protocol, database `main`, plain SELECTs valid on both. What the
# stand-in cannot imitate by itself, it is told to: psql_break_table makes a table
# answer like ProxySQL does for every admin SQL error (errno 1045, SQLSTATE 28000).
# The "traffic port" (ProxySQL's 6033) is stood in for by a plain mariadbd with the
# account app/apppw: a login plus a query there is what a routed login looks like.
#
#   psql_start NAME PORT SERVER_ID        mariadbd + `main` schema + radmin account
#   psql_reset NAME                       empty tables, then psql_default_checksums
#   psql_server NAME HG HOST PORT STATUS  add a runtime_mysql_servers row
#   psql_clear_servers NAME [HG]          delete the rows (of hostgroup HG)
#   psql_default_checksums NAME           the 7 modules of 2.7 with fixed checksums
#   psql_set_checksum NAME MODULE CHECKSUM
#   psql_peer NAME HOST PORT              add a (runtime_)proxysql_servers row
#   psql_replication_hostgroup NAME WRITER_HG READER_HG
#   psql_break_table NAME TABLE           TABLE now answers 1045 like a ProxySQL error
#   psql_fix_table NAME TABLE             undoes psql_break_table
#   psql_admin_cnf FILE [USER PASS]       0600 option file: [client] admin credentials
#   psql_frontend_cnf FILE USER PASS      appends a [ka-proxysql-frontend] group
#
# Load mariadb.bash first. Everything runs as root over the stand-in's unix socket.

PSQL_ADMIN_USER=radmin
PSQL_ADMIN_PASS=radminpw

# The seven modules of ProxySQL 2.7's runtime_checksums_values, with fixed checksums.
PSQL_MODULES=(admin_variables mysql_query_rules mysql_servers mysql_users mysql_variables
	proxysql_servers mysql_servers_v2)

# DDL of the stand-in: docs/proxysql-admin-tables.sql with VARCHAR -> VARCHAR(255); the
# CHECK constraints are kept, so rows a real ProxySQL would refuse are refused here too.
psql_schema_sql() {
	cat <<'SQL'
SET sql_log_bin=0;
CREATE DATABASE main;
USE main;
CREATE TABLE runtime_mysql_servers (
    hostgroup_id INT NOT NULL DEFAULT 0 CHECK (hostgroup_id>=0),
    hostname VARCHAR(255) NOT NULL,
    port INT NOT NULL DEFAULT 3306 CHECK (port >= 0 AND port <= 65535),
    gtid_port INT NOT NULL DEFAULT 0 CHECK ((gtid_port <> port OR gtid_port=0) AND gtid_port >= 0 AND gtid_port <= 65535),
    status VARCHAR(255) NOT NULL DEFAULT 'ONLINE' CHECK (UPPER(status) IN ('ONLINE','SHUNNED','OFFLINE_SOFT', 'OFFLINE_HARD')),
    weight INT NOT NULL DEFAULT 1 CHECK (weight >= 0 AND weight <=10000000),
    compression INT NOT NULL DEFAULT 0 CHECK (compression IN(0,1)),
    max_connections INT NOT NULL DEFAULT 1000 CHECK (max_connections >=0),
    max_replication_lag INT NOT NULL DEFAULT 0 CHECK (max_replication_lag >= 0 AND max_replication_lag <= 126144000),
    use_ssl INT NOT NULL DEFAULT 0 CHECK (use_ssl IN(0,1)),
    max_latency_ms INT UNSIGNED NOT NULL DEFAULT 0,
    comment VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (hostgroup_id, hostname, port));
CREATE TABLE runtime_checksums_values (
    name VARCHAR(255) NOT NULL,
    version INT NOT NULL,
    epoch INT NOT NULL,
    checksum VARCHAR(255) NOT NULL,
    PRIMARY KEY (name));
CREATE TABLE proxysql_servers (
    hostname VARCHAR(255) NOT NULL,
    port INT NOT NULL DEFAULT 6032,
    weight INT NOT NULL DEFAULT 0 CHECK (weight >= 0),
    comment VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (hostname, port));
CREATE TABLE runtime_proxysql_servers LIKE proxysql_servers;
CREATE TABLE mysql_replication_hostgroups (
    writer_hostgroup INT NOT NULL PRIMARY KEY CHECK (writer_hostgroup>=0),
    reader_hostgroup INT NOT NULL CHECK (reader_hostgroup<>writer_hostgroup AND reader_hostgroup>=0),
    check_type VARCHAR(255) NOT NULL DEFAULT 'read_only' CHECK (LOWER(check_type) IN ('read_only','innodb_read_only','super_read_only','read_only|innodb_read_only','read_only&innodb_read_only')),
    comment VARCHAR(255) NOT NULL DEFAULT '',
    UNIQUE (reader_hostgroup));
CREATE TABLE runtime_mysql_replication_hostgroups LIKE mysql_replication_hostgroups;
CREATE TABLE stats_mysql_connection_pool (
    hostgroup INT, srv_host VARCHAR(255), srv_port INT, status VARCHAR(255),
    ConnUsed INT, ConnFree INT, ConnOK INT, ConnERR INT, MaxConnUsed INT, Queries INT,
    Queries_GTID_sync INT, Bytes_data_sent INT, Bytes_data_recv INT, Latency_us INT);
CREATE TABLE stats_proxysql_servers_checksums (
    hostname VARCHAR(255) NOT NULL,
    port INT NOT NULL DEFAULT 6032,
    name VARCHAR(255) NOT NULL,
    version INT NOT NULL,
    epoch INT NOT NULL,
    checksum VARCHAR(255) NOT NULL,
    changed_at INT NOT NULL,
    updated_at INT NOT NULL,
    diff_check INT NOT NULL,
    PRIMARY KEY (hostname, port, name));
-- ProxySQL answers every admin SQL error with errno 1045 / SQLSTATE 28000 (FACTS 33).
DELIMITER //
CREATE FUNCTION proxysql_error(what VARCHAR(255)) RETURNS INT DETERMINISTIC
BEGIN
    DECLARE msg VARCHAR(255) DEFAULT CONCAT('no such table: ', what);
    SIGNAL SQLSTATE '28000' SET MYSQL_ERRNO = 1045, MESSAGE_TEXT = msg;
    RETURN 0;
END//
DELIMITER ;
SQL
	cat <<SQL
CREATE USER $PSQL_ADMIN_USER@'127.0.0.1' IDENTIFIED BY '$PSQL_ADMIN_PASS';
CREATE USER $PSQL_ADMIN_USER@'localhost' IDENTIFIED BY '$PSQL_ADMIN_PASS';
GRANT SELECT ON main.* TO $PSQL_ADMIN_USER@'127.0.0.1', $PSQL_ADMIN_USER@'localhost';
SET sql_log_bin=1;
SQL
}

psql_sql() {
	mdb_sql "$1" "SET sql_log_bin=0; USE main; $2"
}

psql_start() {
	local name=$1
	mdb_start "$@" || return 1
	psql_schema_sql | mariadb --no-defaults -uroot -S "$(mdb_socket "$name")" || return 1
	psql_reset "$name"
}

# One round trip when nothing is broken: repairs psql_break_table, empties the tables.
psql_reset() {
	local t saved
	saved=$(psql_sql "$1" "SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA='main' AND TABLE_NAME LIKE '%\\_\\_saved'") || return 1
	for t in $saved; do
		psql_fix_table "$1" "${t%__saved}" || return 1
	done
	psql_sql "$1" "DELETE FROM runtime_mysql_servers; DELETE FROM proxysql_servers;
		DELETE FROM runtime_proxysql_servers; DELETE FROM mysql_replication_hostgroups;
		DELETE FROM runtime_mysql_replication_hostgroups;
		$(psql_checksums_sql)"
}

psql_server() {
	psql_sql "$1" "INSERT INTO runtime_mysql_servers (hostgroup_id, hostname, port, status)
		VALUES ($2, '$3', $4, '$5')"
}

psql_clear_servers() {
	psql_sql "$1" "DELETE FROM runtime_mysql_servers ${2:+WHERE hostgroup_id=$2}"
}

psql_checksums_sql() {
	local m i=1 values=()
	for m in "${PSQL_MODULES[@]}"; do
		values+=("('$m', 1, 1795272425, '0x00000000000000$(printf '%02X' $i)')")
		i=$((i + 1))
	done
	echo "DELETE FROM runtime_checksums_values;
		INSERT INTO runtime_checksums_values VALUES $(IFS=,; echo "${values[*]}");"
}

psql_default_checksums() {
	psql_sql "$1" "$(psql_checksums_sql)"
}

psql_set_checksum() {
	psql_sql "$1" "UPDATE runtime_checksums_values SET checksum='$3', version=version+1
		WHERE name='$2'"
}

psql_peer() {
	psql_sql "$1" "INSERT INTO proxysql_servers (hostname, port) VALUES ('$2', $3);
		INSERT INTO runtime_proxysql_servers (hostname, port) VALUES ('$2', $3)"
}

psql_replication_hostgroup() {
	psql_sql "$1" "INSERT INTO runtime_mysql_replication_hostgroups
		(writer_hostgroup, reader_hostgroup) VALUES ($2, $3)"
}

# Swaps TABLE for a view that fails with 1045 the way ProxySQL reports an SQL error.
psql_break_table() {
	psql_sql "$1" "RENAME TABLE $2 TO ${2}__saved;
		CREATE SQL SECURITY DEFINER VIEW $2 AS SELECT * FROM ${2}__saved
		WHERE proxysql_error('$2') = 0"
}

psql_fix_table() {
	local saved
	saved=$(psql_sql "$1" "SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA='main' AND TABLE_NAME='${2}__saved'") || return 1
	[ "$saved" = 0 ] && return 0
	psql_sql "$1" "DROP VIEW $2; RENAME TABLE ${2}__saved TO $2"
}

psql_admin_cnf() {
	mdb_cnf - "$1" "${2:-$PSQL_ADMIN_USER}" "${3:-$PSQL_ADMIN_PASS}"
}

psql_frontend_cnf() {
	printf '[ka-proxysql-frontend]\nuser=%s\npassword=%s\n' "$2" "$3" >> "$1"
}
