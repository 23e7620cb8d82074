/* Pod metadata (name, namespace, owner, node, QoS) from a pod list file:
 * the JSON that `kubectl get pods -o json` prints (a PodList, or a single
 * Pod). Parsing is bounded (size, nesting, count) and all-or-nothing: a file
 * that does not parse leaves the previous list in force. The file is
 * re-read when its size, mtime or inode changes. The same parser reads what
 * the Kubernetes API sends (processor/k8s.c): a PodList with its
 * resourceVersion, and watch events one line at a time. */
#ifndef SLUICE_PODS_H
#define SLUICE_PODS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PODS_FILE_MAX (64u << 20) /* larger files are refused */
#define PODS_MAX 65536            /* pods kept from one file */
/* JSON values one document may hold (16 bytes each: 128 MiB at most). A pod
 * as the API returns it is a few hundred values, so this is ~20k pods; a
 * document of tiny values cannot turn 64 MiB into half a gigabyte. */
#define PODS_TOKENS_MAX (8u << 20)
#define PODS_DEPTH_MAX 64         /* JSON nesting */
#define PODS_FIELD_MAX 256        /* Kubernetes names are at most 253 bytes */
#define PODS_EVENT_MAX (4u << 20) /* one watch event line; longer ones are refused */

struct pod_meta {
	char uid[PODS_FIELD_MAX];
	char name[PODS_FIELD_MAX];
	char namespace[PODS_FIELD_MAX];
	char owner_kind[PODS_FIELD_MAX];
	char owner_name[PODS_FIELD_MAX];
	char node[PODS_FIELD_MAX];
	char qos[16];                 /* guaranteed, burstable, besteffort; "" unknown */
};

/* Parses a PodList or Pod. On success *out holds the pods that have a
 * metadata.uid (free() it) and the count is returned; on error returns
 * -EINVAL (not JSON, or not a pod list) or -E2BIG (a bound was exceeded)
 * and writes a short reason into err. */
int pods_parse_json(const char *buf, size_t len, struct pod_meta **out, char *err, size_t errlen);
/* The same, and the list's metadata.resourceVersion into rv ("" when it has
 * none; cut to rvlen). rv may be NULL. */
int pods_parse_list(const char *buf, size_t len, struct pod_meta **out, char *rv, size_t rvlen,
		    char *err, size_t errlen);

/* One line of a watch stream (GET ...?watch=1): a WatchEvent
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}. */
enum pod_event_type {
	POD_EV_ADDED = 1,
	POD_EV_MODIFIED,
	POD_EV_DELETED,
	POD_EV_BOOKMARK,
	POD_EV_ERROR,
};

struct pod_event {
	int type;                  /* enum pod_event_type */
	int code;                  /* ERROR: the Status's code (410: resourceVersion too old) */
	char rv[PODS_FIELD_MAX];   /* the object's metadata.resourceVersion; "" when none */
	char message[256];         /* ERROR: the Status's message (or reason) */
	struct pod_meta pod;       /* ADDED, MODIFIED, DELETED: pod.uid is never "" */
};

/* Parses one watch event, or a bare Status object (the body of an API
 * error reply, returned as POD_EV_ERROR), of at most PODS_EVENT_MAX bytes.
 * 0 on success; -EINVAL (not JSON, not an event, an unknown type, a pod
 * without a uid) or -E2BIG, with a short reason in err and *ev zeroed. */
int pods_parse_event(const char *buf, size_t len, struct pod_event *ev, char *err, size_t errlen);

struct pods_file {
	const char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	int seen;                 /* 1 once a version of the file was looked at */
};

/* Re-reads the file if it changed since the last call. Returns the number
 * of pods (and *out, to free) when it was (re)loaded, 0 when unchanged, or
 * a negative errno when it changed but could not be used (logged once per
 * change, with the reason). */
int pods_file_poll(struct pods_file *pf, struct pod_meta **out);

#endif
