-- 001: the core tables of the metadata store (see schema/README.md).
-- Times are integers: *_ns columns named start_ns are nanoseconds since the
-- host booted (the kernel's own clock, part of a process's identity); every
-- other time (first_seen, last_seen, exited, opened, closed) is nanoseconds
-- since the Unix epoch, UTC.

-- Bookkeeping for the writer: applied_seq = last loader batch whose rows are
-- all committed, so a restart that replays batches does not count twice.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value
) WITHOUT ROWID;

-- One row per boot of the host: pids, start times and connection ids are
-- only unique within a boot, so every row below names its boot.
CREATE TABLE boots (
	id        INTEGER PRIMARY KEY,
	boot_id   TEXT NOT NULL UNIQUE,     -- /proc/sys/kernel/random/boot_id
	boot_time INTEGER NOT NULL          -- Unix ns when the host booted
);

-- A process is (boot, pid, start_ns): a reused pid is a new row.
-- start_ns = 0: sluice saw the process only through its connections (it
-- was forked without exec, or ran before sluice) and does not know its start.
CREATE TABLE processes (
	id           INTEGER PRIMARY KEY,
	boot         INTEGER NOT NULL REFERENCES boots(id),
	pid          INTEGER NOT NULL,
	start_ns     INTEGER NOT NULL,
	ppid         INTEGER,
	uid          INTEGER,
	comm         TEXT,
	exe          TEXT,
	cmdline      TEXT,                   -- NULL until the probes report it
	cgroup_id    INTEGER,
	cgroup_path  TEXT,                   -- relative to the cgroup v2 root
	unit         TEXT,                   -- systemd unit (*.service, *.scope)
	pidns        INTEGER,                -- pid namespace inode
	ns_pid       INTEGER,                -- pid inside that namespace
	container_id TEXT,                   -- containers.id
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	exited       INTEGER,                -- NULL while running (or exit not seen)
	exit_code    INTEGER,                -- exit(n) value, when it exited normally
	exit_signal  INTEGER,                -- signal that killed it, 0 if none
	UNIQUE (boot, pid, start_ns)
);
CREATE INDEX processes_pid ON processes(pid);
CREATE INDEX processes_container ON processes(container_id);
CREATE INDEX processes_cgroup ON processes(cgroup_id);

CREATE TABLE containers (
	id          TEXT PRIMARY KEY,        -- 64 hex digits (lxc: the name)
	runtime     TEXT NOT NULL,           -- docker, containerd, crio, podman, cri, lxc
	cgroup_path TEXT,
	pod_uid     TEXT,                    -- pods.uid, NULL outside Kubernetes
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL
);
CREATE INDEX containers_pod ON containers(pod_uid);

CREATE TABLE pods (
	uid        TEXT PRIMARY KEY,
	name       TEXT,                     -- NULL until a pod list names it
	namespace  TEXT,
	owner_kind TEXT,                     -- ReplicaSet, DaemonSet, StatefulSet, Job, Node...
	owner_name TEXT,
	node       TEXT,
	qos        TEXT,                     -- guaranteed, burstable, besteffort
	source     TEXT NOT NULL,            -- cgroup (path only) or file (--pods-file)
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
);

-- Listening ports per process: from the probes' LISTEN events (listen()
-- calls, and the sockets already listening when the loader started) and
-- from accepted connections. An accepted connection counts on the row of
-- the socket listening on its port (its address, or a wildcard one); with
-- no such row it makes one with the local address it arrived on.
CREATE TABLE ports (
	id         INTEGER PRIMARY KEY,
	process    INTEGER NOT NULL REFERENCES processes(id),
	proto      TEXT NOT NULL,            -- tcp
	addr       TEXT NOT NULL,            -- listening address (0.0.0.0, ::, or specific)
	port       INTEGER NOT NULL,
	listening  INTEGER,                  -- 1 listening, 0 stopped, NULL: only accepts seen
	accepted   INTEGER NOT NULL,         -- connections accepted there
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	UNIQUE (process, proto, addr, port)
);

-- Recent TCP connections, newest kept (--db-max-conns, --db-max-age).
-- Bytes are from the owning process's side: sent = written, recv = read;
-- exact totals once closed, running totals before.
CREATE TABLE conns (
	id          INTEGER PRIMARY KEY,
	boot        INTEGER NOT NULL REFERENCES boots(id),
	conn_id     INTEGER NOT NULL,        -- the probes' id, unique within a boot
	process     INTEGER REFERENCES processes(id),
	pid         INTEGER NOT NULL,
	comm        TEXT,
	role        TEXT,                    -- client, server, unknown (predates sluice)
	laddr       TEXT,
	lport       INTEGER,
	raddr       TEXT,
	rport       INTEGER,
	netns       INTEGER,
	protocol    TEXT,                    -- http1 once a request/response pair was seen
	requests    INTEGER NOT NULL DEFAULT 0,
	http_4xx    INTEGER NOT NULL DEFAULT 0,
	http_5xx    INTEGER NOT NULL DEFAULT 0,
	no_response INTEGER NOT NULL DEFAULT 0, -- requests that never got a response
	latency_ns  INTEGER NOT NULL DEFAULT 0, -- sum over answered requests
	bytes_sent  INTEGER,
	bytes_recv  INTEGER,
	opened      INTEGER,
	closed      INTEGER,
	last_seen   INTEGER NOT NULL,
	UNIQUE (boot, conn_id)
);
CREATE INDEX conns_process ON conns(process);
CREATE INDEX conns_opened ON conns(opened);
CREATE INDEX conns_last_seen ON conns(last_seen);
