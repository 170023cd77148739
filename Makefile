# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# ctaccel build: BPF objects and skeletons into $(OUTPUT), userspace with
# -Werror. `make V=1` shows the commands.

OUTPUT ?= .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PREFIX ?= /usr/local
DESTDIR ?=

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CFLAGS ?= -O2 -g
# user/lib is libctaccel; user/json its JSON views; user/cli and user/daemon
# its two clients (docs/architecture.md).
USER_INC := -I include -I $(OUTPUT) -I user/lib -I user/json -I user/daemon
USER_CFLAGS := $(CFLAGS) -Wall -Wextra -Werror -D_GNU_SOURCE $(USER_INC)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -mcpu=v3 -Wall -Werror \
	-I include -I . -I bpf $(BPF_EXTRA)
LIBS := -lbpf -lelf -lz

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# tracker_compat: the tracker without bpf_cast_to_kern_ctx, for kernels
# before 6.3 (bpf/common.bpf.h)
BPF_OBJS := tracker tracker_compat sockets
BENCH_BPF := bench_empty
SKELS := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_OBJS) $(BENCH_BPF))
LIB_SRCS := $(sort $(wildcard user/lib/*.c))
LIB_OBJS := $(patsubst user/%.c,$(OUTPUT)/obj/%.o,$(LIB_SRCS))
LIBCTACCEL := $(OUTPUT)/libctaccel.a
LIB_LIBS := $(LIBS) -lnftables
JSON_SRCS := $(sort $(wildcard user/json/*.c))
DAEMON_SRCS := $(sort $(wildcard user/daemon/*.c))
CLI_SRCS := $(sort $(wildcard user/cli/*.c))
# Everything above the library: its clients and their JSON views.
APP_SRCS := $(JSON_SRCS) $(DAEMON_SRCS) $(CLI_SRCS)
APP_OBJS := $(patsubst user/%.c,$(OUTPUT)/obj/%.o,$(APP_SRCS))
USER_HDRS := $(wildcard user/*/*.h)
UNIT_TESTS := $(OUTPUT)/test_tracker $(OUTPUT)/test_lib
TEST_TOOLS := $(OUTPUT)/tcpgen $(OUTPUT)/tcxprogs
UPGRADE_BIN := $(OUTPUT)/upgrade/ctaccel
# The last commit of each ABI a migration serves (user/lib/abi.c's
# abi_steps[]), built from this repository's history: the states
# tests/integration/abi.bats migrates from (and the upgrade soak, from the
# previous ABI's). An ABI bump adds its predecessor's last commit here.
ABI_COMMITS := 5:7ebefdad95efd70de1f8086929720bc70e1b4f99 \
	6:badc0a97e9fa3a258955d3d3daf0d5fc7805860f \
	7:937b0886bf4151390ed67cd046ecff1e9da7bb39
# (a checkout root does not own, as CI's may be, is still read)
GIT := git -c safe.directory=$(CURDIR)
ABI_PREV_BINS := $(foreach c,$(ABI_COMMITS),$(OUTPUT)/abi$(firstword $(subst :, ,$(c)))/ctaccel)
BENCH_BINS := $(OUTPUT)/bench_datapath $(OUTPUT)/flowfill $(OUTPUT)/crr $(OUTPUT)/rr \
	$(OUTPUT)/gwcost $(OUTPUT)/tcxattach $(OUTPUT)/memfloor

# Fuzz targets (libFuzzer) over the same userspace sources, built with
# ASan and UBSan; `make test` runs each for seconds, `make fuzz` for longer.
FUZZ_TARGETS := packet args config http
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))
# The fuzz targets link the library, its JSON views and the daemon's parts,
# never the CLI.
FUZZ_OBJS := $(patsubst user/%.c,$(OUTPUT)/fuzz/%.o,$(LIB_SRCS) $(JSON_SRCS) $(DAEMON_SRCS))
SAN_CLI_OBJS := $(patsubst user/%.c,$(OUTPUT)/fuzz/%.o,$(CLI_SRCS))
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_CFLAGS := $(SAN_FLAGS) -Wall -Wextra -Werror -D_GNU_SOURCE $(USER_INC) \
	-I tests/unit -I tests/fuzz
USER_LIBS := $(LIBS) -ljansson -lnftables -lmicrohttpd -linih -lpthread

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: test-kernels all check upgrade-link soak-upgrade fuzz soak test demo bench bench-datapath bench-tw bench-read bench-crr bench-gateway profile-gateway bench-expiry image clean \
	deps vmlinux install

all: ctaccel $(SKELS) $(LIBCTACCEL) $(UNIT_TESTS) $(TEST_TOOLS) $(BENCH_BINS) $(FUZZ_BINS) \
	$(OUTPUT)/fuzz/ctaccel $(UPGRADE_BIN)

ctaccel: $(APP_OBJS) $(LIBCTACCEL)
	$(call msg,LD,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ -o $@ $(USER_LIBS)

# The same ctaccel with other BPF program tags (the tracker built with a
# salt): the second build the live-upgrade soak swaps with ./ctaccel.
$(UPGRADE_BIN): $(wildcard bpf/*.bpf.c bpf/*.bpf.h) include/ctaccel.h vmlinux.h $(LIB_SRCS) \
		$(APP_SRCS) $(USER_HDRS)
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/upgrade \
		BPF_EXTRA=-DCTACCEL_UPGRADE_SALT=1 upgrade-link

# A clone without that history (shallow) fetches it first.
$(OUTPUT)/abi%/ctaccel: Makefile
	$(call msg,ABI$*,$@)
	$(Q)c=$(lastword $(subst :, ,$(filter $*:%,$(ABI_COMMITS)))); \
	$(GIT) cat-file -e $$c^{commit} 2>/dev/null || $(GIT) fetch -q --unshallow 2>/dev/null || true; \
	$(GIT) cat-file -e $$c^{commit} || \
		{ echo "ctaccel: abi $* build: commit $$c is not in this clone's history" >&2; exit 1; }; \
	rm -rf $(@D) && mkdir -p $(@D)/src && \
	$(GIT) archive $$c | tar -x -C $(@D)/src && \
	MAKEFLAGS= $(MAKE) --no-print-directory -C $(@D)/src OUTPUT=.output -j2 ctaccel >/dev/null && \
	cp $(@D)/src/ctaccel $@.tmp && rm -rf $(@D)/src && mv $@.tmp $@

upgrade-link: $(APP_OBJS) $(LIBCTACCEL)
	$(call msg,LD,$(OUTPUT)/ctaccel)
	$(Q)$(CC) $(USER_CFLAGS) $^ -o $(OUTPUT)/ctaccel $(USER_LIBS)

$(LIBCTACCEL): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(OUTPUT)/fuzz/%.o: user/%.c $(USER_HDRS) include/ctaccel.h $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/common.c tests/fuzz/common.h \
		tests/unit/invariants.c tests/unit/invariants.h tests/unit/pkt.c tests/unit/pkt.h \
		$(FUZZ_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< tests/fuzz/common.c \
		tests/unit/invariants.c tests/unit/pkt.c $(FUZZ_OBJS) -o $@ $(USER_LIBS)

# The whole CLI under ASan and UBSan, for the sanitizer pass of the tests.
$(OUTPUT)/fuzz/ctaccel: $(SAN_CLI_OBJS) $(FUZZ_OBJS)
	$(call msg,LD-SAN,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $^ -o $@ $(USER_LIBS)

deps:
	$(Q)bash scripts/deps.sh

vmlinux:
	$(Q)bash scripts/gen-vmlinux.sh

$(OUTPUT):
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) include/ctaccel.h vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tracker_compat.bpf.o: bpf/tracker.bpf.c $(wildcard bpf/*.bpf.h) include/ctaccel.h vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DCTACCEL_KERN_CTX=0 -c $< -o $@

$(OUTPUT)/bench_empty.bpf.o: tests/bench/bench_empty.bpf.c vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.linked.o: $(OUTPUT)/%.bpf.o
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.linked.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(OUTPUT)/obj/%.o: user/%.c $(USER_HDRS) include/ctaccel.h $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUTPUT)/test_tracker: tests/unit/test_tracker.c tests/unit/pkt.c tests/unit/pkt.h \
		tests/unit/invariants.c tests/unit/invariants.h $(LIBCTACCEL) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I tests/unit tests/unit/test_tracker.c tests/unit/pkt.c \
		tests/unit/invariants.c $(LIBCTACCEL) -o $@ $(LIB_LIBS) -lcmocka -lpthread

# libctaccel driven directly, on a private pin root in a private namespace.
$(OUTPUT)/test_lib: tests/unit/test_lib.c $(LIBCTACCEL) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I tests/unit $< $(LIBCTACCEL) -o $@ $(LIB_LIBS) -lcmocka -lpthread

$(OUTPUT)/flowfill: tests/bench/flowfill.c tests/unit/pkt.c tests/unit/pkt.h $(LIBCTACCEL) \
		$(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I tests/unit tests/bench/flowfill.c tests/unit/pkt.c \
		$(LIBCTACCEL) -o $@ $(LIB_LIBS)

$(OUTPUT)/rr: tests/bench/rr.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ -lpthread

$(OUTPUT)/gwcost: tests/bench/gwcost.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ -lm

$(OUTPUT)/tcxattach: tests/bench/tcxattach.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ $(LIBS)

$(OUTPUT)/memfloor: tests/bench/memfloor.c include/ctaccel.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ $(LIBS)

$(OUTPUT)/crr: tests/bench/crr.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ -lpthread

$(OUTPUT)/tcpgen: tests/integration/tcpgen.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ -lpthread

$(OUTPUT)/tcxprogs: tests/integration/tcxprogs.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ $(LIBS)

$(OUTPUT)/bench_datapath: tests/bench/bench_datapath.c tests/unit/pkt.c tests/unit/pkt.h \
		$(LIBCTACCEL) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I tests/unit tests/bench/bench_datapath.c tests/unit/pkt.c \
		$(LIBCTACCEL) -o $@ $(LIB_LIBS) -lpthread

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory $(ABI_PREV_BINS) || \
		echo "ctaccel: the previous ABIs' builds failed: abi.bats and upgrade.bats fail" >&2
	$(Q)bash tests/run.sh

# The core suite in a virtual machine per kernel ctaccel is proven on
# (tests/kernels/run.sh; also part of `make test`).
test-kernels: deps
	$(Q)$(MAKE) --no-print-directory all $(ABI_PREV_BINS)
	$(Q)bash tests/kernels/run.sh

# The static checks of docs/checks.md (also part of `make test`).
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/check/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/demo.sh

# The datapath benchmark built once more without the events code, beside it.
NOEVENTS_BENCH := $(OUTPUT)/noevents/bench_datapath
$(NOEVENTS_BENCH): $(wildcard bpf/*.bpf.c bpf/*.bpf.h) include/ctaccel.h vmlinux.h $(LIB_SRCS) \
		$(USER_HDRS) tests/bench/bench_datapath.c
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/noevents \
		BPF_EXTRA=-DCTACCEL_NO_EVENTS=1 $(NOEVENTS_BENCH)

bench-datapath: deps
	$(Q)$(MAKE) --no-print-directory all $(NOEVENTS_BENCH)
	$(Q)bash scripts/bench-datapath.sh

bench-tw: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/bench-tw.sh

bench-read: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/bench-read.sh

bench-crr: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/bench-crr.sh

# The container image (deploy/k8s), from this build, offline.
image: deps
	$(Q)$(MAKE) --no-print-directory ctaccel
	$(Q)bash scripts/image.sh

bench-expiry: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/bench-expiry.sh

bench-gateway: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/bench-gateway.sh

# Where the ingress program's time goes under real traffic (perf; MODE=bypass,
# WORKLOAD=crr).
profile-gateway: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/profile-gateway.sh $(or $(MODE),fastpath) 8 $(or $(WORKLOAD),rr)

# Benchmarks, never part of `make test`: every one, then bench/results.{md,json,png}.
bench: deps
	$(Q)$(MAKE) --no-print-directory all $(NOEVENTS_BENCH)
	$(Q)bash scripts/bench.sh

fuzz: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/fuzz/run.sh long

# 1,000 live upgrades under traffic (a 50-swap run is part of `make test`).
soak-upgrade: deps
	$(Q)$(MAKE) --no-print-directory all $(ABI_PREV_BINS)
	$(Q)bash scripts/soak-upgrade.sh

soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/soak.sh

install: ctaccel
	$(Q)install -D -m 0755 ctaccel $(DESTDIR)$(PREFIX)/sbin/ctaccel
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	$(Q)sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|' scripts/ctaccel.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/ctaccel.service
	$(Q)install -D -m 0644 docs/ctaccel.conf.example $(DESTDIR)/etc/ctaccel/ctaccel.conf.example
	$(Q)[ -e $(DESTDIR)/etc/ctaccel/ctaccel.conf ] || \
		install -m 0644 docs/ctaccel.conf.example $(DESTDIR)/etc/ctaccel/ctaccel.conf
	$(Q)install -D -m 0644 docs/ctaccel.8 $(DESTDIR)$(PREFIX)/share/man/man8/ctaccel.8
	$(Q)install -D -m 0644 scripts/ctaccel.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/ctaccel

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT) ctaccel
