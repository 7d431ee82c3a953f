# Makefile -- llmtap: all / deps / test-deps / test / unit / e2e / fuzz / bench / install / vmlinux
# Outputs go to build/. Quiet unless V=1. `make` never installs anything: when a
# build dependency is missing it names the Debian package; `make deps` installs them.

ARCH ?= x86
PREFIX ?= /usr/local
OUT := build
CLANG ?= $(shell command -v clang-19 || command -v clang-16 || echo clang)
FUZZ_CC ?= $(shell command -v clang-16 || command -v clang-14 || echo clang)
BPFTOOL ?= $(shell command -v bpftool || echo /usr/sbin/bpftool)
CC ?= cc

# CFLAGS is the user's (optimisation, debug info); what the build needs is
# always added, so `make CFLAGS=-O0` keeps the include path and the warnings.
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror
LT_CPPFLAGS := -Iinclude -Iuser -I$(OUT) -I$(OUT)/gen -D_GNU_SOURCE
DEPFLAGS = -MMD -MP
LDLIBS := -lbpf -lelf -lz -lsqlite3 -ljansson -lbrotlidec -lzstd -lnghttp2 -lprotobuf-c \
	-lcap -lseccomp -lpthread -lm
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# The rooms of user/ (see README "Layout"). proto/ and llm/ are pure, like
# the small helpers and formats listed with them: no libbpf, sqlite or curl.
PURE_SRCS := $(sort $(wildcard user/proto/*.c user/llm/*.c)) user/base/buf.c user/base/hash.c user/base/htab.c user/base/pctl.c \
	user/db/rows.c user/push/format.c user/push/format_otlp.c user/push/format_otlp_run.c user/capture/x86dec.c \
	user/capture/sigpat.c
SRCS := $(sort $(wildcard user/*.c user/*/*.c))
APP_SRCS := $(filter-out $(PURE_SRCS),$(SRCS))
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
OBJS := $(patsubst user/%.c,$(OUT)/obj/%.o,$(SRCS)) $(OUT)/obj/assets.o
# Files the binary embeds (user/assets.S); installed beside it too.
ASSETS := data/prices.tsv data/report.html

# The OpenTelemetry collector's .proto files (third_party/, as published)
# become C at build time with protoc-c; proto/otlp.c decodes with them.
PROTO_DIR := third_party/opentelemetry-proto
PROTOS := $(sort $(shell cd $(PROTO_DIR) && find opentelemetry -name '*.proto'))
PB_SRCS := $(patsubst %.proto,$(OUT)/gen/%.pb-c.c,$(PROTOS))
PB_HDRS := $(PB_SRCS:.c=.h)
PB_OBJS := $(patsubst $(OUT)/gen/%.c,$(OUT)/obj/gen/%.o,$(PB_SRCS))

# Debian packages: to build (header or command -> package), to run, to test.
BUILD_NEEDS := cmd:$(CLANG):clang-16 cmd:$(BPFTOOL):bpftool cmd:$(CC):gcc \
	hdr:bpf/libbpf.h:libbpf-dev hdr:gelf.h:libelf-dev hdr:zlib.h:zlib1g-dev \
	hdr:sqlite3.h:libsqlite3-dev hdr:jansson.h:libjansson-dev hdr:brotli/decode.h:libbrotli-dev \
	hdr:zstd.h:libzstd-dev hdr:curl/curl.h:libcurl4-openssl-dev hdr:microhttpd.h:libmicrohttpd-dev \
	hdr:nghttp2/nghttp2.h:libnghttp2-dev hdr:protobuf-c/protobuf-c.h:libprotobuf-c-dev \
	cmd:protoc-c:protobuf-c-compiler hdr:sys/capability.h:libcap-dev hdr:seccomp.h:libseccomp-dev \
	hdr:capstone/capstone.h:libcapstone-dev
BUILD_PKGS := clang-16 bpftool libbpf-dev libelf-dev zlib1g-dev libsqlite3-dev libjansson-dev \
	libbrotli-dev libzstd-dev libcurl4-openssl-dev libmicrohttpd-dev libnghttp2-dev \
	libprotobuf-c-dev protobuf-c-compiler libcap-dev libseccomp-dev libcapstone-dev pkg-config make gcc
RUN_PKGS := ca-certificates libsodium23
TEST_PKGS := llvm-16 libclang-rt-16-dev sqlite3 libssl-dev openssl iproute2 util-linux zstd \
	clickhouse-server clickhouse-client chromium tmux binutils libmbedtls-dev golang-go
# Tools wanted as commands: installed from Debian only when the command is
# missing (a machine may carry its own node/npm/python3, which Debian's
# packages would conflict with).
TEST_CMDS := node:nodejs npm:npm curl:curl python3:python3 wget:wget systemd-analyze:systemd \
	chattr:e2fsprogs setpriv:util-linux
# What only `make bench` needs: the peers' method, measured side by side.
BENCH_PKGS := bpftrace

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test-deps bench-deps test unit e2e fuzz fuzz-smoke bench bench-progs install uninstall \
	vmlinux clean check-deps FORCE

all: $(OUT)/llmtap

# apt_install PKGS CMDS: install the packages not installed and the packages of
# the commands not found (idempotent; apt-get update only when needed).
define apt_install
	$(Q)missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done; for cp in $(2); do \
		command -v $${cp%%:*} >/dev/null 2>&1 || echo $${cp#*:}; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
endef

# What building and running llmtap needs (root: apt-get).
deps:
	$(call apt_install,$(BUILD_PKGS) $(RUN_PKGS),)

# What only the tests need, on top of deps.
test-deps: deps
	$(call apt_install,$(TEST_PKGS),$(TEST_CMDS))

# Says which package is missing instead of failing deep in a compile.
check-deps:
	$(Q)rc=0; for n in $(BUILD_NEEDS); do \
		kind=$${n%%:*}; rest=$${n#*:}; what=$${rest%:*}; pkg=$${rest##*:}; \
		if [ $$kind = cmd ]; then command -v $$what >/dev/null 2>&1 && continue; \
		else echo "#include <$$what>" | $(CC) -E -x c - >/dev/null 2>&1 && continue; fi; \
		echo "llmtap build: missing $$what (Debian package $$pkg)"; rc=1; \
	done; \
	[ $$rc = 0 ] || { echo "llmtap build: 'make deps' (as root) installs what is missing"; exit 1; }

$(OUT)/.build-deps:
	$(Q)$(MAKE) --no-print-directory check-deps
	$(Q)mkdir -p $(OUT) && touch $@

# vmlinux.h is pinned; regenerate only on request.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c | $(OUT)/.build-deps
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror $(DEPFLAGS) \
		-Iinclude -Ivmlinux/$(ARCH) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# Only capture/ includes the skeletons; -MMD records which ones each object uses.
$(filter $(OUT)/obj/capture/%,$(OBJS)): | $(SKELS)

# protoc-c writes the .c and .h of a .proto in one run.
$(OUT)/gen/%.pb-c.c $(OUT)/gen/%.pb-c.h: $(PROTO_DIR)/%.proto | $(OUT)/.build-deps
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(OUT)/gen
	$(Q)protoc-c --c_out=$(OUT)/gen -I$(PROTO_DIR) $<

# Generated code is not ours to fix: warnings shown, never fatal.
$(OUT)/obj/gen/%.o: $(OUT)/gen/%.c | $(PB_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LT_CPPFLAGS) -Wall -Wextra $(CFLAGS) -c $< -o $@

# Any object may include a generated header; -MMD tells which do.
$(OBJS): | $(PB_HDRS) $(OUT)/version.h

$(OUT)/obj/%.o: user/%.c | $(OUT)/.build-deps
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LT_CPPFLAGS) $(WARN) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# `llmtap --version`: VERSION, and the commit when built from git. Rewritten
# only when it changes, so an unchanged tree relinks nothing.
$(OUT)/version.h: FORCE | $(OUT)/.build-deps
	$(Q)v="$$(cat VERSION)"; g="$$(git describe --always --dirty --tags 2>/dev/null)"; \
	[ -n "$$g" ] && v="$$v ($$g)"; \
	printf '#define LLMTAP_VERSION "%s"\n' "$$v" > $@.tmp; \
	cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

# .incbin paths are relative to the repository; -MMD cannot see them.
$(OUT)/obj/assets.o: user/assets.S $(ASSETS) | $(OUT)/.build-deps
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -c $< -o $@

$(OUT)/llmtap: $(OBJS) $(PB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- tests -------------------------------------------------------------

# Unit tests: every module is compiled once with the sanitizers; a test links
# its own object, the pure modules (an archive: only what it uses is pulled
# in) and the impure modules it names below.
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(addprefix $(OUT)/san/,$(UNIT_TESTS))
UNIT_LIBS := -ljansson -lz -lbrotlidec -lbrotlienc -lzstd -lnghttp2 -lprotobuf-c -lelf -lcapstone -lpthread -lm
SAN_PURE := $(OUT)/san/libpure.a
san_obj = $(patsubst user/%.c,$(OUT)/san/obj/%.o,$(1))

# Tests of modules that are not pure (they read /proc, use util.c's clocks
# and ids) link those modules too, and are tested the same way.
TEST_EXTRA_stream := user/track/stream.c user/track/stream_rows.c user/track/stream_h2.c user/track/stream_ws.c user/track/net.c user/track/dns.c \
	user/base/util.c user/base/procfs.c
TEST_EXTRA_dns := user/track/dns.c user/base/util.c
TEST_EXTRA_net := user/track/net.c user/track/dns.c user/base/util.c
TEST_EXTRA_proc := user/track/proc.c user/track/exepath.c user/track/procres.c user/track/procwatch.c user/track/events.c \
	user/base/util.c user/base/procfs.c
TEST_EXTRA_ingest := user/track/spans.c
TEST_EXTRA_host := user/track/host.c user/track/procres.c user/track/procwatch.c user/track/events.c \
	user/base/util.c user/base/procfs.c
TEST_EXTRA_event := user/capture/event.c
TEST_EXTRA_scan := user/capture/scan.c user/capture/elfimg.c user/capture/xdec.c \
	user/capture/sig_boringssl.c user/capture/sig_openssl.c user/capture/sig_awslc.c user/capture/gopclntab.c
TEST_EXTRA_genai := user/serve/genai.c
TEST_EXTRA_placement := user/capture/placement.c
TEST_EXTRA_spool := user/capture/spool.c user/capture/spool_cipher.c user/base/util.c
TEST_EXTRA_merge := user/capture/merge.c
TEST_EXTRA_exepath := user/track/exepath.c user/base/procfs.c user/base/util.c
TEST_EXTRA_procfs := user/base/procfs.c
TEST_EXTRA_util := user/base/util.c

$(OUT)/san/obj/%.o: user/%.c | $(OUT)/.build-deps $(PB_HDRS) $(OUT)/version.h
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(WARN) $(SAN) $(LT_CPPFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUT)/san/tests/%.o: tests/unit/%.c | $(OUT)/.build-deps $(PB_HDRS)
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(WARN) $(SAN) $(LT_CPPFLAGS) -Itests/unit $(DEPFLAGS) -c $< -o $@

$(OUT)/san/gen/%.o: $(OUT)/gen/%.c | $(PB_HDRS)
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -Wall -Wextra $(SAN) $(LT_CPPFLAGS) -c $< -o $@

$(SAN_PURE): $(call san_obj,$(PURE_SRCS)) $(patsubst $(OUT)/gen/%.c,$(OUT)/san/gen/%.o,$(PB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(OUT)/san/test_%: $(OUT)/san/tests/test_%.o $$(call san_obj,$$(TEST_EXTRA_$$*)) $(SAN_PURE)
	$(call msg,TEST-LD,$@)
	$(Q)$(CC) $(SAN) $^ $(UNIT_LIBS) -o $@

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

# Fuzzers: built with the warnings, and a sanitizer report is a crash.
FUZZERS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
$(OUT)/fuzz/%: tests/fuzz/%.c $(PURE_SRCS) $(wildcard user/*/*.h) $(PB_SRCS) | $(OUT)/.build-deps
	$(Q)mkdir -p $(@D)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) -O1 -g $(WARN) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(LT_CPPFLAGS) $< $(PURE_SRCS) $(PB_SRCS) $(UNIT_LIBS) -o $@

# `make fuzz`: each harness for FUZZ_SECONDS (10 minutes) on its corpus;
# a crash input is kept as build/fuzz/NAME.crash-* (make it a unit case).
FUZZ_SECONDS ?= 600
fuzz: $(addprefix $(OUT)/fuzz/,$(FUZZERS))
	$(Q)tests/run-fuzz.sh $(FUZZ_SECONDS) $^

# A short fuzz pass inside `make test`: each harness for FUZZ_SMOKE seconds.
FUZZ_SMOKE ?= 10
fuzz-smoke: $(addprefix $(OUT)/fuzz/,$(FUZZERS))
	$(Q)tests/run-fuzz.sh $(FUZZ_SMOKE) $^

e2e: $(OUT)/llmtap
	$(Q)LLMTAP=$(OUT)/llmtap python3 tests/e2e/run.py

# Everything; the last line is "N passed, N failed" summed over all suites.
test: test-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run-all.sh

# The bench's workload programs (tests/bench/*.c, against the system libssl).
# `make test` builds them too (tests/bench/build-check.sh), so they do not rot.
BENCH_PROGS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(wildcard tests/bench/*.c))
$(OUT)/bench/%: tests/bench/%.c | $(OUT)/.build-deps
	$(call msg,BENCH-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g $(WARN) -D_GNU_SOURCE $< -lssl -lcrypto -lpthread -o $@

bench-progs: $(BENCH_PROGS)

bench-deps: test-deps
	$(call apt_install,$(BENCH_PKGS),)

# Timing goals live here, as ratios measured in one run (BENCH_ROUNDS=N rounds).
bench: bench-deps
	$(Q)$(MAKE) --no-print-directory all bench-progs
	$(Q)LLMTAP=$(OUT)/llmtap BENCH_DIR=$(OUT)/bench python3 tests/bench/bench.py
	$(Q)LLMTAP=$(OUT)/llmtap tests/bench/plain.sh
	$(Q)LLMTAP=$(OUT)/llmtap python3 tests/bench/stacks.py

# Every file goes under $(DESTDIR)$(PREFIX): the unit in $(PREFIX)/lib/systemd/system
# (systemd reads /usr/local/lib/systemd/system too), the price table beside the
# binary's data, the contract and the changelog with the docs. The binary is stripped.
INSTALL_FILES := bin/llmtap share/man/man8/llmtap.8 lib/systemd/system/llmtap.service \
	share/llmtap/prices.tsv share/doc/llmtap/README.md share/doc/llmtap/CONTRACT.md \
	share/doc/llmtap/CHANGELOG.md
install: $(OUT)/llmtap
	install -D -m 0755 -s $(OUT)/llmtap $(DESTDIR)$(PREFIX)/bin/llmtap
	install -D -m 0644 man/llmtap.8 $(DESTDIR)$(PREFIX)/share/man/man8/llmtap.8
	install -D -m 0644 dist/llmtap.service $(DESTDIR)$(PREFIX)/lib/systemd/system/llmtap.service
	sed -i 's|/usr/local/bin/llmtap|$(PREFIX)/bin/llmtap|' $(DESTDIR)$(PREFIX)/lib/systemd/system/llmtap.service
	install -D -m 0644 data/prices.tsv $(DESTDIR)$(PREFIX)/share/llmtap/prices.tsv
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/llmtap/README.md
	install -D -m 0644 docs/CONTRACT.md $(DESTDIR)$(PREFIX)/share/doc/llmtap/CONTRACT.md
	install -D -m 0644 CHANGELOG.md $(DESTDIR)$(PREFIX)/share/doc/llmtap/CHANGELOG.md

# Removes what install wrote, and the directories of llmtap's own it leaves empty.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALL_FILES))
	-rmdir $(DESTDIR)$(PREFIX)/share/llmtap $(DESTDIR)$(PREFIX)/share/doc/llmtap 2>/dev/null

clean:
	rm -rf $(OUT)

-include $(shell find $(OUT) -name '*.d' 2>/dev/null)
