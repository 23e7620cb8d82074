/* Pod metadata from the Kubernetes API, for a processor running in a
 * cluster: list the pods of this node, then watch them, on a thread of its
 * own (libcurl). What it learns waits in a bounded hand-over area that the
 * main thread takes from (store_tick: the store stays single-threaded).
 *
 * Standard in-cluster configuration: the API at
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the service
 * account's token and CA in K8S_SA_DIR_DEFAULT (the token is re-read before
 * every request, so a rotated token is picked up at the next reconnect or
 * after a 401). The node is --node-name, else $NODE_NAME (downward API),
 * else the hostname.
 *
 * Protocol: GET /api/v1/pods?fieldSelector=spec.nodeName=NODE (a PodList
 * and its resourceVersion), then GET the same with watch=1,
 * resourceVersion=RV, allowWatchBookmarks=true: newline-delimited watch
 * events. Every event moves RV on; a stream that ends is watched again from
 * RV; 410 Gone (as an HTTP status or an ERROR event) lists again. Errors
 * back off exponentially from 1 s to 30 s and are logged when they change,
 * and at most every 10 minutes while they do not. */
#ifndef SLUICE_K8S_H
#define SLUICE_K8S_H

#include <stdbool.h>
#include <stdint.h>

#include "processor/pods.h"

#define K8S_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_LINE_MAX PODS_EVENT_MAX  /* a longer watch line is dropped, and RV relisted */
#define K8S_CHANGES_MAX 8192         /* events waiting for the main thread; more: relist */
#define K8S_TOKEN_MAX 16384
#define K8S_BACKOFF_MIN_MS 1000
#define K8S_BACKOFF_MAX_MS 30000
#define K8S_WATCH_TIMEOUT_S 300      /* the server ends a watch after this; we watch again */

struct k8s_opts {
	const char *api;    /* "https://host:port"; NULL: from the KUBERNETES_SERVICE_* env */
	const char *sa_dir; /* token and ca.crt; NULL: K8S_SA_DIR_DEFAULT */
	const char *node;   /* NULL: $NODE_NAME, else the hostname */
};

/* --k8s MODE: "on", "off" or "auto" (on when api is given, or when
 * KUBERNETES_SERVICE_HOST and _PORT are set and no --pods-file is). 1 (on),
 * 0 (off), or -1 with err filled (a bad mode, or "on" with no API to use). */
int k8s_mode(const char *mode, const char *api, bool pods_file, char *err, size_t errlen);

/* One change the watch saw. */
struct k8s_change {
	bool deleted;
	struct pod_meta pod;
};

/* What the main thread takes: when has_list, a complete list of the node's
 * pods (a pod the API knew before and not in it is gone), then the changes
 * that came after it, in order. */
struct k8s_batch {
	bool has_list;
	struct pod_meta *list;
	int nlist;
	struct k8s_change *changes;
	int nchanges;
};

struct k8s_status {
	bool connected;        /* the last list or watch request got its 200 */
	char api[256], node[256];
	char last_error[256];  /* "" until the first error */
	char rv[PODS_FIELD_MAX]; /* resourceVersion the next watch starts from */
	uint64_t lists;        /* successful lists */
	uint64_t watches;      /* watch streams opened */
	uint64_t events;       /* watch events applied (bookmarks included) */
	uint64_t relists;      /* lists after the first: 410, a dropped line, an overflow */
	uint64_t errors;       /* failed requests and bad replies */
	uint64_t lines_dropped; /* watch lines longer than K8S_LINE_MAX */
	uint64_t bad_events;   /* watch lines that did not parse */
	uint64_t overflows;    /* the main thread fell K8S_CHANGES_MAX events behind */
};

struct k8s;

/* Resolves the configuration and starts the thread; NULL with err filled
 * when the configuration cannot work (no API URL, a bad node name). The
 * thread itself never gives up: errors are retried with backoff. */
struct k8s *k8s_start(const struct k8s_opts *o, char *err, size_t errlen);
/* Moves what waits into b (replacing b's contents, which must be empty or
 * freed). Returns the number of pods plus changes taken (0: nothing). */
int k8s_take(struct k8s *k, struct k8s_batch *b);
void k8s_batch_free(struct k8s_batch *b);
/* Asks for a new list (e.g. the store could not write what it took). */
void k8s_relist(struct k8s *k);
void k8s_status(struct k8s *k, struct k8s_status *st);
/* Stops the thread (an open watch is cut within about a second) and frees
 * k and whatever was not taken. NULL is fine. */
void k8s_stop(struct k8s *k);

#endif
