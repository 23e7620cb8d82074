# sluice: build, run, test. `make run` and `make test` do all set-up on a
# fresh machine (as root): they install missing Debian packages first.
# Quiet by default; `make V=1` shows the commands.

.DELETE_ON_ERROR:
.SUFFIXES:

B        := build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
VERSION  := 0.1.0
CPPFLAGS := -I. -I$(B) -D_GNU_SOURCE -DSLUICE_VERSION=\"$(VERSION)\"
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# What each binary is made of. The loader's list is short on purpose: it is
# what `make audit` counts as privileged code.
COMMON_LOADER := common/wire.c common/log.c
LOADER_SRC    := $(wildcard loader/*.c) $(COMMON_LOADER)
# service.c (sd_notify, nng pipe events) belongs to the daemon, not to what tests link.
PROC_LIB_SRC  := $(filter-out processor/main.c processor/sluicectl.c processor/service.c,$(wildcard processor/*.c)) common/log.c common/wire.c
PROC_SRC      := processor/main.c processor/service.c $(PROC_LIB_SRC)
CTL_SRC       := processor/sluicectl.c common/log.c
BPF_SRC       := $(wildcard bpf/*.bpf.c)
BPF_HDR       := $(wildcard bpf/*.h) common/events.h
HDRS          := $(wildcard common/*.h loader/*.h processor/*.h) $(B)/schema_sql.h
SCHEMA_SQL    := $(sort $(wildcard schema/[0-9][0-9][0-9]_*.sql))
UNIT_TESTS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/*_test.c))
UNIT_ASAN     := $(patsubst tests/unit/%.c,$(B)/tests-asan/%,$(wildcard tests/unit/*_test.c))
# Tests and tools that play the loader build its events with msgpack-c.
WIRE_PACK     := tests/tools/wire_pack.c common/wire.c

LOADER_LIBS := -lbpf -lelf -lz -lnng -lsystemd -lseccomp -lcap-ng -lpthread
PROC_LIBS   := -lnng -lmsgpackc -lsqlite3 -lsystemd -lmicrohttpd -lcurl -lcares -lpthread -lm
CTL_LIBS    := -lsqlite3

.PHONY: all deps run test unit integration audit bench fuzz clean asan-build test-asan
all: deps $(B)/sluice-loader $(B)/sluice-processor $(B)/sluicectl

deps:
	$(Q)sh scripts/install-deps.sh

$(B) $(B)/tests $(B)/tests-asan:
	$(Q)mkdir -p $@

# vmlinux.h is generated from the running kernel's BTF rather than committed:
# every machine sluice targets has /sys/kernel/btf/vmlinux, and CO-RE makes the
# object portable anyway; a committed 3 MB header would only go stale.
$(B)/vmlinux.h: | $(B)
	$(call msg,BTF,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

# One object per bpf/NAME.bpf.c: sluice (the probes) and snapshot (the
# iterators run once at loader start), each with its skeleton NAME_bpf.
.PRECIOUS: $(B)/%.bpf.o
$(B)/%.bpf.o: bpf/%.bpf.c $(BPF_HDR) $(B)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I. -I$(B) $(WARN) \
		-Wno-unused-function -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(B)/sluice-loader: $(LOADER_SRC) $(HDRS) $(B)/sluice.skel.h $(B)/snapshot.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LOADER_SRC) -o $@ $(LOADER_LIBS)

# The schema's migrations as C arrays: the processor needs no files at run time.
$(B)/schema_sql.h: $(SCHEMA_SQL) schema/embed.sh | $(B)
	$(call msg,GEN,$@)
	$(Q)sh schema/embed.sh $(SCHEMA_SQL) > $@

$(B)/sluice-processor: $(PROC_SRC) $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(PROC_SRC) -o $@ $(PROC_LIBS)

$(B)/sluicectl: $(CTL_SRC) $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(CTL_SRC) -o $@ $(CTL_LIBS)

# Debugging stand-in for the processor: dials the loader, prints events
# (decoded by the processor's decoder), acks.
WIRE_DUMP_SRC := processor/decode.c processor/mpack.c common/wire.c
$(B)/wire-dump: tests/tools/wire_dump.c $(WIRE_DUMP_SRC) $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(WIRE_DUMP_SRC) -o $@ -lnng -lmsgpackc

# A misbehaving processor, for the loader's tests.
$(B)/bad-peer: tests/tools/bad_peer.c $(WIRE_DUMP_SRC) $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(WIRE_DUMP_SRC) -o $@ -lnng

# `make bench`'s tools (scripts/bench.sh): a synthetic loader, the processor
# pipeline alone, a wire recorder, two load generators, empty programs on
# sluice's hooks (the overhead floor), and the HTTP parser's own benchmark
# when its source is there.
BENCH_TOOLS := $(B)/frame-gen $(B)/proc-bench $(B)/wire-record $(B)/tcp-blast $(B)/conn-hold \
	$(B)/hook-floor \
	$(if $(wildcard tests/bench/http1_bench.c),$(B)/http1-bench)
EVGEN := tests/bench/evgen.c $(WIRE_PACK)
$(B)/frame-gen: tests/tools/frame_gen.c $(EVGEN) tests/bench/evgen.h $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(EVGEN) -o $@ -lnng -lmsgpackc
$(B)/proc-bench: tests/bench/proc_bench.c $(PROC_LIB_SRC) $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(PROC_LIB_SRC) -o $@ $(PROC_LIBS)
$(B)/wire-record: tests/bench/wire_record.c $(WIRE_DUMP_SRC) $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(WIRE_DUMP_SRC) -o $@ -lnng -lmsgpackc
$(B)/tcp-blast: tests/bench/tcp_blast.c | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< -o $@ -lpthread
$(B)/conn-hold: tests/bench/conn_hold.c | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< -o $@
$(B)/hook-floor: tests/bench/hook_floor.c $(B)/sluice.bpf.o | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< -o $@ -lbpf -lelf -lz
$(B)/http1-bench: tests/bench/http1_bench.c processor/http1.c $(HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< processor/http1.c -o $@

# Unit tests link the processor's library sources (and the encoders of loader
# frames, version 4 and 1..3)
# and run twice: plain, and under ASan+UBSan.
UNIT_SRC := $(PROC_LIB_SRC) tests/tools/wire_pack.c tests/tools/wire_v3.c
$(B)/tests/%: tests/unit/%.c $(UNIT_SRC) $(HDRS) tests/unit/harness.h | $(B)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(UNIT_SRC) -o $@ $(PROC_LIBS)
$(B)/tests-asan/%: tests/unit/%.c $(UNIT_SRC) $(HDRS) tests/unit/harness.h | $(B)/tests-asan
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) $< $(UNIT_SRC) -o $@ $(PROC_LIBS)

unit-build: $(UNIT_TESTS) $(UNIT_ASAN)

# The daemons again under ASan+UBSan: tests/run.sh runs an integration test
# against them (SLUICE_BIN_DIR) and fails on any sanitizer report.
ASAN_BINS := $(B)/asan/sluice-processor $(B)/asan/sluice-loader
$(B)/asan:
	$(Q)mkdir -p $@
$(B)/asan/sluice-processor: $(PROC_SRC) $(HDRS) | $(B)/asan
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) $(PROC_SRC) -o $@ $(PROC_LIBS)
$(B)/asan/sluice-loader: $(LOADER_SRC) $(HDRS) $(B)/sluice.skel.h $(B)/snapshot.skel.h \
		tests/tools/asan_no_leaks.c | $(B)/asan
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) $(LOADER_SRC) tests/tools/asan_no_leaks.c \
		-o $@ $(LOADER_LIBS)
asan-build: $(ASAN_BINS)

# `make test` with only the sanitizer runs: unit tests and the daemons
test-asan: all $(UNIT_ASAN) $(ASAN_BINS)
	$(Q)B=$(B) TESTS_ONLY=asan bash tests/run.sh

run: all
	$(Q)bash scripts/run.sh

# the loader's integration tests use wire-dump and bad-peer as processors
test: all unit-build asan-build $(B)/wire-dump $(B)/bad-peer
	$(Q)B=$(B) bash tests/run.sh

# the loader is all it audits (and it starts one: run as root)
audit: $(B)/sluice-loader
	$(Q)B=$(B) bash scripts/audit.sh

bench: all $(BENCH_TOOLS)
	$(Q)B=$(B) bash scripts/bench.sh

fuzz: all
	$(Q)B=$(B) bash tests/fuzz/run.sh

# Binaries, units, sysusers/tmpfiles snippets, default config, schema and BPF
# objects; systemd/install.sh holds the table (DESTDIR, PREFIX honoured).
PREFIX ?= /usr/local
.PHONY: install uninstall
install: $(B)/sluice-loader $(B)/sluice-processor $(B)/sluicectl
	$(Q)B=$(B) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) sh systemd/install.sh install
uninstall:
	$(Q)B=$(B) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) sh systemd/install.sh uninstall

clean:
	rm -rf $(B)
