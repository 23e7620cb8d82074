/* Fuzzes the pod list parser (the --pods-file JSON): any bytes must give
 * pods or a clear error, never a crash, a leak or an unterminated field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/pods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pod_meta *pods = NULL;
	char err[160];
	int n = pods_parse_json((const char *)data, size, &pods, err, sizeof(err));

	for (int i = 0; i < n; i++)
		if (!pods[i].uid[0] || strnlen(pods[i].name, PODS_FIELD_MAX) == PODS_FIELD_MAX ||
		    strnlen(pods[i].owner_name, PODS_FIELD_MAX) == PODS_FIELD_MAX)
			abort();
	if (n < 0 && (pods || !err[0]))
		abort();
	free(pods);
	return 0;
}
