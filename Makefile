# Makefile -- llmtap: deps / all / test / unit / e2e / fuzz / bench / install / vmlinux
# Outputs go to build/. Quiet unless V=1.

ARCH ?= x86
PREFIX ?= /usr/local
OUT := build
CLANG ?= $(shell command -v clang-19 || command -v clang-16 || echo clang)
FUZZ_CC ?= $(shell command -v clang-16 || command -v clang-14 || echo clang)
BPFTOOL ?= $(shell command -v bpftool || echo /usr/sbin/bpftool)
CC ?= cc

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
CFLAGS += $(WARN) -Iinclude -Iuser -I$(OUT) -D_GNU_SOURCE
LDLIBS := -lbpf -lelf -lz -lsqlite3 -ljansson -lbrotlidec -lzstd -lcurl -lmicrohttpd -lnghttp2 -lpthread -lm
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Pure modules: no libbpf, sqlite or curl headers; unit-tested alone.
PURE_SRCS := user/buf.c user/call.c user/http1.c user/decode.c user/sse.c user/redact.c \
	user/cost.c user/verdict.c user/dnsmsg.c $(sort $(wildcard user/provider*.c)) \
	user/pushfmt.c user/otlp.c user/h2.c
APP_SRCS := user/main.c user/loader.c user/event.c user/conn.c user/conn_h2.c user/store.c \
	user/cli.c user/util.c user/net.c user/dns.c user/proc.c \
	user/push.c user/push_ch.c user/push_otlp.c user/push_json.c user/config.c user/listen.c
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
OBJS := $(patsubst user/%.c,$(OUT)/obj/%.o,$(PURE_SRCS) $(APP_SRCS))

DEB_PKGS := clang-16 llvm-16 libclang-rt-16-dev bpftool libbpf-dev libelf-dev zlib1g-dev \
	libsqlite3-dev sqlite3 libcurl4-openssl-dev libssl-dev libbrotli-dev \
	libzstd-dev zstd libjansson-dev libnghttp2-dev libmicrohttpd-dev pkg-config make gcc openssl iproute2 \
	util-linux ca-certificates clickhouse-server clickhouse-client
# Tools wanted as commands: installed from Debian only when the command is
# missing (a machine may carry its own node/npm/python3, which Debian's
# packages would conflict with).
CMD_PKGS := node:nodejs npm:npm curl:curl python3:python3

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test unit e2e fuzz fuzz-smoke bench install vmlinux clean

all: $(OUT)/llmtap

# Installs what is missing, nothing else (idempotent; apt-get update only when needed).
deps:
	$(Q)missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done; for cp in $(CMD_PKGS); do \
		command -v $${cp%%:*} >/dev/null 2>&1 || echo $${cp#*:}; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	$(Q)[ -f $(OUT)/.deps-ok ] || { mkdir -p $(OUT) && touch $(OUT)/.deps-ok; }

$(OUT)/.deps-ok:
	$(Q)$(MAKE) --no-print-directory deps

$(OUT)/obj $(OUT)/bpf $(OUT)/san:
	$(Q)mkdir -p $@

# vmlinux.h is pinned; regenerate only on request.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) include/events.h vmlinux/$(ARCH)/vmlinux.h | $(OUT)/bpf $(OUT)/.deps-ok
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-Iinclude -Ivmlinux/$(ARCH) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/obj/%.o: user/%.c $(wildcard user/*.h) include/events.h $(SKELS) | $(OUT)/obj $(OUT)/.deps-ok
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/llmtap: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# ---- tests -------------------------------------------------------------

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(addprefix $(OUT)/san/,$(UNIT_TESTS))
UNIT_LIBS := -ljansson -lz -lbrotlidec -lbrotlienc -lzstd -lnghttp2 -lm

# Tests of modules that are not pure (they read /proc, use util.c's clocks
# and ids) link those modules too, and are tested the same way.
TEST_EXTRA_conn := user/conn.c user/conn_h2.c user/util.c user/net.c
TEST_EXTRA_dns := user/dns.c user/util.c
TEST_EXTRA_proc := user/proc.c user/util.c

.SECONDEXPANSION:
$(OUT)/san/test_%: tests/unit/test_%.c $(PURE_SRCS) $$(TEST_EXTRA_$$*) $(wildcard user/*.h) tests/unit/harness.h | $(OUT)/san $(OUT)/.deps-ok
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) -O1 -g $(WARN) $(SAN) -D_GNU_SOURCE -Iinclude -Iuser -Itests/unit $< $(PURE_SRCS) $(TEST_EXTRA_$*) $(UNIT_LIBS) -o $@

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

FUZZERS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
$(OUT)/fuzz/%: tests/fuzz/%.c $(PURE_SRCS) $(wildcard user/*.h) | $(OUT)/.deps-ok
	$(Q)mkdir -p $(OUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) -O1 -g -fsanitize=fuzzer,address,undefined -Iuser $< $(PURE_SRCS) $(UNIT_LIBS) -o $@

FUZZ_SECONDS ?= 300
fuzz: $(addprefix $(OUT)/fuzz/,$(FUZZERS))
	$(Q)for f in $^; do echo "fuzz: $$f for $(FUZZ_SECONDS)s"; $$f -max_total_time=$(FUZZ_SECONDS) >/dev/null 2>$$f.log || { tail -40 $$f.log; exit 1; }; done

# A short fuzz pass inside `make test`: each harness for FUZZ_SMOKE seconds.
FUZZ_SMOKE ?= 10
fuzz-smoke: $(addprefix $(OUT)/fuzz/,$(FUZZERS))
	$(Q)tests/run-fuzz.sh $(FUZZ_SMOKE) $^

e2e: $(OUT)/llmtap
	$(Q)LLMTAP=$(OUT)/llmtap python3 tests/e2e/run.py

# Everything; the last line is "N passed, N failed" summed over all suites.
test: $(OUT)/.deps-ok
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run-all.sh

bench: $(OUT)/llmtap
	$(Q)tests/bench/run.sh

install: $(OUT)/llmtap
	install -D -m 0755 $(OUT)/llmtap $(DESTDIR)$(PREFIX)/bin/llmtap
	install -D -m 0644 man/llmtap.8 $(DESTDIR)$(PREFIX)/share/man/man8/llmtap.8
	install -D -m 0644 dist/llmtap.service $(DESTDIR)/etc/systemd/system/llmtap.service
	sed -i 's|/usr/local/bin/llmtap|$(PREFIX)/bin/llmtap|' $(DESTDIR)/etc/systemd/system/llmtap.service

clean:
	rm -rf $(OUT)
