-- Pods the Kubernetes API reported deleted (--k8s): the row stays, so that
-- what ran in the pod keeps its name, and says since when the pod is gone.
-- NULL while the pod exists, and for pods from the cgroup path or a
-- --pods-file (a file says nothing about deletions). pods.source gains the
-- value 'k8s'.
ALTER TABLE pods ADD COLUMN deleted INTEGER;

DROP VIEW v_pods;
CREATE VIEW v_pods AS
SELECT pd.uid, pd.namespace, pd.name, pd.owner_kind, pd.owner_name, pd.node, pd.qos,
       pd.source, count(DISTINCT ct.id) AS containers,
       count(DISTINCT CASE WHEN p.exited IS NULL THEN p.id END) AS processes,
       strftime('%Y-%m-%dT%H:%M:%fZ', pd.last_seen / 1e9, 'unixepoch') AS last_seen,
       strftime('%Y-%m-%dT%H:%M:%fZ', pd.deleted / 1e9, 'unixepoch') AS deleted
FROM pods pd
LEFT JOIN containers ct ON ct.pod_uid = pd.uid
LEFT JOIN processes p ON p.container_id = ct.id
GROUP BY pd.uid;
