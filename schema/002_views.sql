-- 002: views for the common questions. Kept apart from the tables so a
-- later migration can DROP and re-CREATE a view without touching data.
-- Times are shown as ISO 8601 UTC text; the tables keep the raw integers.
-- "alive" = no exit seen and the process belongs to the current boot.

CREATE VIEW v_processes AS
SELECT p.id, p.pid, p.ppid, p.uid, p.comm, p.exe, p.cmdline,
       p.container_id, ct.runtime, ct.pod_uid, pd.namespace AS pod_namespace,
       pd.name AS pod_name, pd.qos, p.unit, p.cgroup_path, p.pidns, p.ns_pid,
       CASE WHEN p.start_ns > 0 THEN
            strftime('%Y-%m-%dT%H:%M:%fZ', (b.boot_time + p.start_ns) / 1e9, 'unixepoch')
       END AS started,
       strftime('%Y-%m-%dT%H:%M:%fZ', p.last_seen / 1e9, 'unixepoch') AS last_seen,
       strftime('%Y-%m-%dT%H:%M:%fZ', p.exited / 1e9, 'unixepoch') AS exited,
       p.exit_code, p.exit_signal,
       (p.exited IS NULL AND p.boot = (SELECT max(id) FROM boots)) AS alive
FROM processes p
JOIN boots b ON b.id = p.boot
LEFT JOIN containers ct ON ct.id = p.container_id
LEFT JOIN pods pd ON pd.uid = ct.pod_uid;

CREATE VIEW v_conns AS
SELECT c.id, strftime('%Y-%m-%dT%H:%M:%fZ', c.opened / 1e9, 'unixepoch') AS opened,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.closed / 1e9, 'unixepoch') AS closed,
       round((c.closed - c.opened) / 1e6, 3) AS duration_ms,
       c.pid, coalesce(p.comm, c.comm) AS comm, c.role, c.laddr, c.lport, c.raddr, c.rport,
       c.protocol, c.requests, c.http_4xx, c.http_5xx, c.no_response,
       c.bytes_sent, c.bytes_recv, p.container_id, pd.namespace AS pod_namespace,
       pd.name AS pod_name, ct.pod_uid, c.process, c.conn_id
FROM conns c
LEFT JOIN processes p ON p.id = c.process
LEFT JOIN containers ct ON ct.id = p.container_id
LEFT JOIN pods pd ON pd.uid = ct.pod_uid;

-- HTTP requests per process (connections with at least one request).
CREATE VIEW v_requests_per_process AS
SELECT c.process, c.pid, coalesce(p.comm, max(c.comm)) AS comm, p.exe, p.container_id,
       count(*) AS conns, sum(c.requests) AS requests, sum(c.http_4xx) AS http_4xx,
       sum(c.http_5xx) AS http_5xx, sum(c.no_response) AS no_response,
       round(sum(c.latency_ns) / 1e6 / nullif(sum(c.requests) - sum(c.no_response), 0), 3)
           AS avg_latency_ms,
       sum(c.bytes_sent) AS bytes_sent, sum(c.bytes_recv) AS bytes_recv
FROM conns c
LEFT JOIN processes p ON p.id = c.process
WHERE c.requests > 0
GROUP BY c.boot, c.process, CASE WHEN c.process IS NULL THEN c.pid END
ORDER BY requests DESC;

-- Who moves the most bytes with whom: per process, role and peer. The
-- service port is the server's port on either side (a client's remote
-- port, a server's local one), so ephemeral ports do not split rows.
CREATE VIEW v_top_talkers AS
SELECT c.pid, coalesce(p.comm, max(c.comm)) AS comm, c.role, c.raddr AS peer,
       CASE c.role WHEN 'server' THEN c.lport ELSE c.rport END AS service_port,
       count(*) AS conns, sum(c.requests) AS requests,
       sum(coalesce(c.bytes_sent, 0)) AS bytes_sent,
       sum(coalesce(c.bytes_recv, 0)) AS bytes_recv,
       sum(coalesce(c.bytes_sent, 0) + coalesce(c.bytes_recv, 0)) AS bytes_total,
       c.process
FROM conns c
LEFT JOIN processes p ON p.id = c.process
GROUP BY c.boot, c.process, c.pid, c.role, c.raddr, service_port
ORDER BY bytes_total DESC;

-- Every pod sluice knows, with its traffic (0 when none).
CREATE VIEW v_conns_per_pod AS
SELECT pd.uid AS pod_uid, pd.namespace, pd.name, pd.qos,
       count(DISTINCT ct.id) AS containers, count(c.id) AS conns,
       coalesce(sum(c.requests), 0) AS requests,
       coalesce(sum(c.bytes_sent), 0) AS bytes_sent,
       coalesce(sum(c.bytes_recv), 0) AS bytes_recv
FROM pods pd
LEFT JOIN containers ct ON ct.pod_uid = pd.uid
LEFT JOIN processes p ON p.container_id = ct.id
LEFT JOIN conns c ON c.process = p.id
GROUP BY pd.uid
ORDER BY conns DESC;

CREATE VIEW v_pods AS
SELECT pd.uid, pd.namespace, pd.name, pd.owner_kind, pd.owner_name, pd.node, pd.qos,
       pd.source, count(DISTINCT ct.id) AS containers,
       count(DISTINCT CASE WHEN p.exited IS NULL THEN p.id END) AS processes,
       strftime('%Y-%m-%dT%H:%M:%fZ', pd.last_seen / 1e9, 'unixepoch') AS last_seen
FROM pods pd
LEFT JOIN containers ct ON ct.pod_uid = pd.uid
LEFT JOIN processes p ON p.container_id = ct.id
GROUP BY pd.uid;

CREATE VIEW v_containers AS
SELECT ct.id, ct.runtime, ct.pod_uid, pd.namespace AS pod_namespace, pd.name AS pod_name,
       ct.cgroup_path, count(p.id) AS processes,
       strftime('%Y-%m-%dT%H:%M:%fZ', ct.last_seen / 1e9, 'unixepoch') AS last_seen
FROM containers ct
LEFT JOIN pods pd ON pd.uid = ct.pod_uid
LEFT JOIN processes p ON p.container_id = ct.id
GROUP BY ct.id;

-- Listening ports; "alive" = the process runs and the socket was not seen
-- to stop listening.
CREATE VIEW v_listening AS
SELECT pt.proto, pt.addr, pt.port, p.pid, p.comm, p.exe, p.container_id, ct.pod_uid,
       pd.namespace AS pod_namespace, pd.name AS pod_name, pt.listening, pt.accepted,
       strftime('%Y-%m-%dT%H:%M:%fZ', pt.last_seen / 1e9, 'unixepoch') AS last_seen,
       (p.exited IS NULL AND p.boot = (SELECT max(id) FROM boots)
        AND coalesce(pt.listening, 1) = 1) AS alive,
       pt.process
FROM ports pt
JOIN processes p ON p.id = pt.process
LEFT JOIN containers ct ON ct.id = p.container_id
LEFT JOIN pods pd ON pd.uid = ct.pod_uid;
