/* Fuzzes the Kubernetes watch-event parser (one line of a pods watch
 * stream, or an API error's Status body) and the PodList parser with its
 * resourceVersion, on the same bytes: any input must give a well-formed
 * result or a clear error, never a crash, a leak or an unterminated field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/pods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pod(const struct pod_meta *p)
{
	if (strnlen(p->uid, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
	    strnlen(p->name, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
	    strnlen(p->namespace, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
	    strnlen(p->owner_kind, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
	    strnlen(p->owner_name, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
	    strnlen(p->node, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
	    strnlen(p->qos, sizeof(p->qos)) == sizeof(p->qos))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pod_event ev;
	struct pod_meta *pods = NULL;
	char err[160] = "", rv[64];
	int rc = pods_parse_event((const char *)data, size, &ev, err, sizeof(err));
	int n;

	if (rc < 0 && (!err[0] || ev.type != 0))
		abort();
	if (rc == 0) {
		if (ev.type < POD_EV_ADDED || ev.type > POD_EV_ERROR ||
		    strnlen(ev.rv, sizeof(ev.rv)) == sizeof(ev.rv) ||
		    strnlen(ev.message, sizeof(ev.message)) == sizeof(ev.message))
			abort();
		if ((ev.type == POD_EV_ADDED || ev.type == POD_EV_MODIFIED ||
		     ev.type == POD_EV_DELETED) && !ev.pod.uid[0])
			abort();
		if (ev.type != POD_EV_ERROR && ev.code != 0)
			abort();
		check_pod(&ev.pod);
	}
	err[0] = 0;
	n = pods_parse_list((const char *)data, size, &pods, rv, sizeof(rv), err, sizeof(err));
	if (n < 0 && (pods || !err[0]))
		abort();
	if (strnlen(rv, sizeof(rv)) == sizeof(rv))
		abort();
	for (int i = 0; i < n; i++) {
		if (!pods[i].uid[0])
			abort();
		check_pod(&pods[i]);
	}
	free(pods);
	return 0;
}
