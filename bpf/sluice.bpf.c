/* The one BPF object sluice loads: TCP connections, their data and process
 * lifecycle, all on stable tracepoints (kprobes/fentry are unavailable on
 * the target kernels). Records follow common/events.h. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "common/records.h"

#include "bpf/kread.bpf.h"
#include "bpf/maps.bpf.h"
#include "bpf/conn.bpf.h"
#include "bpf/data.bpf.h"
#include "bpf/proc.bpf.h"
#include "bpf/flow.bpf.h"
#include "bpf/dns.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
