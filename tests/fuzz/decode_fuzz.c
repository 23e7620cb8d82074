/* Fuzzes the processor's whole input path: one loader frame through the
 * strict decoder, the connection table and the HTTP/1.x pairer, as if it had
 * arrived on the socket. Output goes nowhere; only crashes, leaks and
 * undefined behaviour matter. Frames share state across runs on purpose
 * (connections live across frames in real use). */
#include <stddef.h>
#include <stdint.h>

#include "processor/processor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct processor p;
	static int ready;

	if (!ready) {
		if (processor_init(&p, 64) < 0)
			return 0;
		ready = 1;
	}
	p.done_seq = 0; /* every input is a new frame */
	processor_frame(&p, data, size);
	return 0;
}
