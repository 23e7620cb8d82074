/* Fuzzes the cgroup path parser: any bytes as a path must parse without a
 * crash, and whatever it reports must be well-formed (ids hex and 64 long,
 * pod uids dashed, QoS only with a pod). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1);
	struct cgroup_info ci;

	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = 0;
	cgroup_parse(path, &ci);
	if (ci.runtime != CGROUP_RT_NONE && ci.runtime != CGROUP_RT_LXC &&
	    strspn(ci.container_id, "0123456789abcdef") != CGROUP_CONTAINER_ID_MAX)
		abort();
	if (ci.pod_uid[0] && strspn(ci.pod_uid, "0123456789abcdefABCDEF-") != strlen(ci.pod_uid))
		abort();
	if ((ci.qos != CGROUP_QOS_NONE) != (ci.pod_uid[0] != 0))
		abort();
	if (strlen(ci.unit) > CGROUP_UNIT_MAX)
		abort();
	free(path);
	return 0;
}
