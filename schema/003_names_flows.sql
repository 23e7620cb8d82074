-- 003: DNS names (ip -> name, from the answers the probes saw and from
-- active PTR lookups), the remote name on connections, and network flows.

-- What each address was called, until the answer's TTL ran out: rows are
-- deleted once expired, and the processor loads the rest when it starts,
-- so a restart keeps every name still valid. One address can have several
-- names (a shared CDN address, say); the newest answer names it in output.
CREATE TABLE dns_names (
	addr       TEXT NOT NULL,           -- 192.0.2.7, 2001:db8::1 (v4-mapped v6 as v4)
	name       TEXT NOT NULL,           -- the name asked for, lower case, no final dot
	alias      TEXT,                    -- the canonical name at the end of its CNAME chain
	source     TEXT NOT NULL,           -- dns (an answer seen) or ptr (--rdns=active)
	first_seen INTEGER NOT NULL,
	updated    INTEGER NOT NULL,        -- last answer that gave this name
	expires    INTEGER NOT NULL,        -- updated + TTL: the row goes after this
	PRIMARY KEY (addr, name)
) WITHOUT ROWID;
CREATE INDEX dns_names_expires ON dns_names(expires);
CREATE INDEX dns_names_name ON dns_names(name);

-- The remote address's name when the connection opened (a client's server).
ALTER TABLE conns ADD COLUMN raddr_name TEXT;

-- Bytes and packets per flow as a socket on this host saw them: one row
-- per (cgroup, transport, local end, remote end), totals over the rows'
-- life. Bytes are L4 payload: TCP segment data and UDP datagram data
-- (retransmissions included), never IP or TCP/UDP headers. Packets are
-- segments (a TSO send counts each segment it is cut into).
CREATE TABLE flows (
	id         INTEGER PRIMARY KEY,
	boot       INTEGER NOT NULL REFERENCES boots(id),
	cgroup_id  INTEGER NOT NULL,        -- the socket's cgroup v2 id
	proto      TEXT NOT NULL,           -- tcp, udp
	laddr      TEXT NOT NULL,
	lport      INTEGER NOT NULL,
	raddr      TEXT NOT NULL,
	rport      INTEGER NOT NULL,
	raddr_name TEXT,                    -- the remote address's DNS name, when known
	pid        INTEGER,                 -- the socket's owner, NULL when unknown
	comm       TEXT,                    -- the comm of the process that created the socket
	process    INTEGER,                 -- processes.id of that owner, when known
	conn_id    INTEGER,                 -- conns.conn_id for a TCP connection sluice tracked
	bytes_out  INTEGER NOT NULL DEFAULT 0,
	bytes_in   INTEGER NOT NULL DEFAULT 0,
	pkts_out   INTEGER NOT NULL DEFAULT 0,
	pkts_in    INTEGER NOT NULL DEFAULT 0,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	UNIQUE (boot, cgroup_id, proto, laddr, lport, raddr, rport)
);
CREATE INDEX flows_last_seen ON flows(last_seen);
CREATE INDEX flows_conn ON flows(boot, conn_id);

-- Connections with their remote name (v_conns plus raddr_name).
CREATE VIEW v_conns_named AS
SELECT c.id, c.pid, coalesce(p.comm, c.comm) AS comm, c.role, c.laddr, c.lport, c.raddr,
       c.raddr_name, c.rport, c.protocol, c.requests, c.bytes_sent, c.bytes_recv,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.opened / 1e9, 'unixepoch') AS opened,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.closed / 1e9, 'unixepoch') AS closed,
       c.process, c.conn_id
FROM conns c
LEFT JOIN processes p ON p.id = c.process;

-- Flows with their owner, and the remote end named when any name is known.
CREATE VIEW v_flows AS
SELECT f.id, f.proto, f.laddr, f.lport, f.raddr, f.rport,
       coalesce(f.raddr_name,
                (SELECT n.name FROM dns_names n WHERE n.addr = f.raddr
                 ORDER BY n.updated DESC LIMIT 1)) AS raddr_name,
       f.pid, coalesce(p.comm, f.comm) AS comm, p.exe, p.container_id, f.bytes_out, f.bytes_in, f.pkts_out, f.pkts_in,
       strftime('%Y-%m-%dT%H:%M:%fZ', f.first_seen / 1e9, 'unixepoch') AS first_seen,
       strftime('%Y-%m-%dT%H:%M:%fZ', f.last_seen / 1e9, 'unixepoch') AS last_seen,
       f.conn_id, f.cgroup_id, f.process
FROM flows f
LEFT JOIN processes p ON p.id = f.process;

-- Names still valid now, newest first.
CREATE VIEW v_dns_names AS
SELECT addr, name, alias, source,
       strftime('%Y-%m-%dT%H:%M:%fZ', updated / 1e9, 'unixepoch') AS updated,
       strftime('%Y-%m-%dT%H:%M:%fZ', expires / 1e9, 'unixepoch') AS expires
FROM dns_names
WHERE expires > CAST(strftime('%s', 'now') AS INTEGER) * 1000000000
ORDER BY updated DESC;
