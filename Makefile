# rtrelay build. `make` builds every binary into build/; `make SANITIZE=1`
# builds the same with ASan+UBSan into build/san/.
#
#   make            binaries          make test    the whole suite (sets up the host)
#   make demo       live demo          make fuzz    longer parser fuzzing
#   make clean

SHELL    := /bin/bash
CC       ?= gcc
CLANG    ?= clang
PKGS     := libdpdk libcrypto libbpf jansson zlib sqlite3 libmicrohttpd
BUILD    ?= build
ifeq ($(SANITIZE),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

DPDK_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DPDK_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -DALLOW_EXPERIMENTAL_API -Idataplane -Icrypto \
            $(DPDK_CFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS)
LDLIBS   := $(DPDK_LIBS) -lIPSec_MB -lpthread $(SANFLAGS)

DP_SRCS  := dataplane/main.c dataplane/cmd.c dataplane/tables.c dataplane/worker.c dataplane/guard.c \
            dataplane/tx.c dataplane/init.c
LIB_SRCS := dataplane/seg.c dataplane/parse.c
HDRS     := $(wildcard dataplane/*.h)
# Token library (control plane: OpenSSL + zlib, no EAL)
CRYPTO_SRCS := $(wildcard crypto/*.c)
CRYPTO_HDRS := $(wildcard crypto/*.h)
CRYPTO_OBJS := $(CRYPTO_SRCS:%.c=$(BUILD)/obj/%.o)

BINS     := $(BUILD)/rtr-dataplane $(BUILD)/rtr-dpctl $(BUILD)/rtr-controld $(BUILD)/rtrctl \
            $(BUILD)/rtr-client $(BUILD)/rtr-gen $(BUILD)/rtr-xdp
TESTBINS := $(BUILD)/test_parse $(BUILD)/test_seg $(BUILD)/test_tables \
            $(BUILD)/test_token $(BUILD)/test_noise
TESTBINS += $(BUILD)/test_aead $(BUILD)/test_replay $(BUILD)/test_xdp $(BUILD)/test_guard
# The XDP pre-filter: a BPF object (net_af_xdp's xdp_prog=, or rtr-xdp) and
# the libbpf skeleton its loaders embed
XDP_OBJ  := $(BUILD)/rtr_xdp.bpf.o
XDP_SKEL := $(BUILD)/gen/rtr_xdp.skel.h
XDP_HDRS := xdp/rtr_xdp.h xdp/rtr_xdp_user.h

.PHONY: all test unit pytest fuzz demo demo-memif clean setup bench
all: $(BINS) $(TESTBINS) $(XDP_OBJ)

$(XDP_OBJ): xdp/rtr_xdp.bpf.c xdp/rtr_xdp.h
	@mkdir -p $(dir $@)
	@echo "  BPF     $@"
	@$(CLANG) -O2 -g -target bpf -Wall -Werror -Ixdp -I/usr/include/$(shell $(CC) -dumpmachine) \
		-c $< -o $@

$(XDP_SKEL): $(XDP_OBJ)
	@mkdir -p $(dir $@)
	@echo "  SKEL    $@"
	@bpftool gen skeleton $< name rtr_xdp > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c $(HDRS) $(CRYPTO_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/librtrseg.a: $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@echo "  AR      $@"
	@ar rcs $@ $^

$(BUILD)/librtrcrypto.a: $(CRYPTO_OBJS)
	@echo "  AR      $@"
	@ar rcs $@ $^

$(CRYPTO_OBJS) $(BUILD)/obj/tests/test_token.o $(BUILD)/obj/tests/test_noise.o: $(CRYPTO_HDRS)
$(BUILD)/obj/tests/test_token.o $(BUILD)/obj/tests/test_noise.o: CFLAGS += -Icrypto
$(BUILD)/obj/tests/test_aead.o $(BUILD)/obj/tests/test_replay.o: $(CRYPTO_HDRS)
$(BUILD)/obj/tests/test_aead.o $(BUILD)/obj/tests/test_replay.o: CFLAGS += -Icrypto

$(BUILD)/rtr-dataplane: $(DP_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/librtrseg.a $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Benchmarks: the dataplane's objects without its main()
DP_LIB_OBJS := $(filter-out $(BUILD)/obj/dataplane/main.o,$(DP_SRCS:%.c=$(BUILD)/obj/%.o))
$(BUILD)/bench_fanout: $(BUILD)/obj/bench/bench_fanout.o $(DP_LIB_OBJS) $(BUILD)/librtrseg.a \
		$(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The benchmark generator and sink (DPDK; a controller of the dataplane)
$(BUILD)/rtr-gen: $(BUILD)/obj/tools/rtr-gen.o $(BUILD)/librtrseg.a $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lm

$(BUILD)/rtr-dpctl: $(BUILD)/obj/tools/rtr-dpctl.o $(BUILD)/librtrseg.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The client: kernel sockets only, no DPDK; libc, jansson, and librtrcrypto for
# transport encryption (Noise on OpenSSL libcrypto, AES-GCM on ipsec-mb).
$(BUILD)/rtr-client: $(BUILD)/obj/tools/rtr-client.o $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -ljansson -lcrypto -lIPSec_MB

# Control plane: rtr-controld and rtrctl (no EAL; librtrseg for the segments)
CTLD_SRCS := control/controld.c control/store.c control/join.c control/api.c \
             control/audit.c control/metrics.c control/xdp.c control/guard.c
CTLD_OBJS := $(CTLD_SRCS:%.c=$(BUILD)/obj/%.o)
$(CTLD_OBJS) $(BUILD)/obj/control/rtrctl.o: CFLAGS += -Icrypto -Icontrol -Ixdp
$(CTLD_OBJS) $(BUILD)/obj/control/rtrctl.o: $(wildcard control/*.h) $(CRYPTO_HDRS) $(XDP_HDRS)

$(BUILD)/rtr-controld: $(CTLD_OBJS) $(BUILD)/librtrseg.a $(BUILD)/librtrcrypto.a $(BUILD)/librtrxdp.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/rtrctl: $(BUILD)/obj/control/rtrctl.o $(BUILD)/librtrseg.a $(BUILD)/librtrcrypto.a \
		$(BUILD)/librtrxdp.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_parse: $(BUILD)/obj/tests/test_parse.o $(BUILD)/librtrseg.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/test_seg: $(BUILD)/obj/tests/test_seg.o $(BUILD)/librtrseg.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/test_tables: $(BUILD)/obj/tests/test_tables.o $(BUILD)/obj/dataplane/tables.o $(BUILD)/obj/dataplane/guard.o \
		$(BUILD)/obj/dataplane/tx.o $(BUILD)/librtrseg.a $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/test_token: $(BUILD)/obj/tests/test_token.o $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# Noise handshake; the test also runs tests/noise_ref.py (python3-cryptography)
$(BUILD)/test_noise: $(BUILD)/obj/tests/test_noise.o $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# AES-GCM (ipsec-mb vs OpenSSL; RTR_BENCH=1 adds a benchmark) and the replay window
$(BUILD)/test_aead: $(BUILD)/obj/tests/test_aead.o $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/obj/xdp/rtr_xdp_user.o $(BUILD)/obj/tools/rtr-xdp.o: $(XDP_HDRS)
$(BUILD)/obj/xdp/rtr_xdp_user.o $(BUILD)/obj/tools/rtr-xdp.o: CFLAGS += -Ixdp -I$(BUILD)/gen
$(BUILD)/obj/tools/rtr-xdp.o: $(XDP_SKEL)
$(BUILD)/librtrxdp.a: $(BUILD)/obj/xdp/rtr_xdp_user.o
	@echo "  AR      $@"
	@ar rcs $@ $^

# The pre-filter's loader and operator tool (libbpf; no EAL)
$(BUILD)/rtr-xdp: $(BUILD)/obj/tools/rtr-xdp.o $(BUILD)/librtrxdp.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lbpf $(SANFLAGS)

$(BUILD)/obj/tests/test_xdp.o: $(XDP_SKEL) xdp/rtr_xdp.h
$(BUILD)/obj/tests/test_xdp.o: CFLAGS += -Ixdp -I$(BUILD)/gen
$(BUILD)/test_xdp: $(BUILD)/obj/tests/test_xdp.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/obj/tests/test_guard.o: CFLAGS += -Idataplane
$(BUILD)/obj/tests/test_guard.o: dataplane/guard.h
$(BUILD)/test_guard: $(BUILD)/obj/tests/test_guard.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka

$(BUILD)/test_replay: $(BUILD)/obj/tests/test_replay.o $(BUILD)/librtrcrypto.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# libFuzzer needs clang; the parser has no DPDK dependency.
$(BUILD)/fuzz_parse: tests/fuzz_parse.c dataplane/parse.c $(HDRS)
	@mkdir -p $(BUILD)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -Idataplane \
		tests/fuzz_parse.c dataplane/parse.c -o $@

setup:
	@bash tools/setup.sh

unit: all
	$(BUILD)/test_parse
	$(BUILD)/test_seg
	$(BUILD)/test_tables
	$(BUILD)/test_token
	$(BUILD)/test_noise
	$(BUILD)/test_aead
	$(BUILD)/test_replay
	$(BUILD)/test_xdp
	$(BUILD)/test_guard

pytest: all
	RTR_BUILD=$(BUILD) /usr/bin/python3 -m pytest -q -x tests/

# The whole suite, then again built with ASan+UBSan.
test: setup
	$(MAKE) all $(BUILD)/fuzz_parse
	$(MAKE) unit
	mkdir -p $(BUILD)/corpus
	$(BUILD)/fuzz_parse -max_total_time=20 $(BUILD)/corpus tests/corpus/parse 2>&1 | \
		grep -E "^Done|ERROR|SUMMARY" ; test $${PIPESTATUS[0]} -eq 0
	$(MAKE) pytest
ifneq ($(SANITIZE),1)
	$(MAKE) SANITIZE=1 unit pytest
endif

fuzz: $(BUILD)/fuzz_parse
	mkdir -p $(BUILD)/corpus
	$(BUILD)/fuzz_parse -max_total_time=600 -print_final_stats=1 $(BUILD)/corpus tests/corpus/parse

demo: setup
	$(MAKE) all
	bash tools/demo.sh $(BUILD)

# the dataplane alone on a memif port, driven flat out by dpdk-testpmd
demo-memif: setup
	$(MAKE) all
	bash tools/demo-memif.sh $(BUILD)

# Benchmarks: the fan-out cost per output frame on one core (plain and
# encrypted, next to raw AES-GCM), the XDP pre-filter's cost per packet for
# each verdict, then the whole system against testpmd
# ceilings (tools/bench.py: docs/benchmarks.json, .md and .png; about 15 min)
bench: setup
	$(MAKE) all $(BUILD)/bench_fanout
	$(BUILD)/bench_fanout --file-prefix rtr_bench_fanout -m 512 --huge-unlink --lcores 0@1 \
		--no-pci --no-telemetry --vdev net_null0 --log-level '*:error' -- \
		--json $(BUILD)/bench_fanout.json; rc=$$?; rm -rf /var/run/dpdk/rtr_bench_fanout; \
		test $$rc -eq 0
	RTR_BENCH=1 $(BUILD)/test_xdp
	/usr/bin/python3 tools/bench.py $(BUILD)

clean:
	rm -rf build

# Example pcaps and rtr-dpctl program files for benchmarking a bare-metal node
# with Pktgen-DPDK (tools/pktgen/README.md): fan-out 1, 4 and 16 at 200 and
# 1200-byte payloads, PCAP_CHANNELS channels, into build/pcaps/. PCAP_DST_MAC,
# the DUT port's MAC, is required (the dataplane takes media addressed to its
# port's MAC only); PCAP_SRC_MAC, the generator port's MAC, is optional.
PCAP_CHANNELS ?= 64
PCAP_COUNT    ?= 4096
.PHONY: pcaps
pcaps:
	@test -n "$(PCAP_DST_MAC)" || { echo "make pcaps PCAP_DST_MAC=<the DUT port's MAC," \
		"ports[0].mac in rtr-dpctl --instance NAME stats> [PCAP_SRC_MAC=...]"; exit 2; }
	@mkdir -p build/pcaps
	@for f in 1 4 16; do for p in 200 1200; do \
		/usr/bin/python3 tools/mkpcap.py build/pcaps/fo$${f}_$$p.pcap --dst-mac $(PCAP_DST_MAC) \
			$(if $(PCAP_SRC_MAC),--src-mac $(PCAP_SRC_MAC)) --channels $(PCAP_CHANNELS) \
			--fanout $$f --payload $$p --count $(PCAP_COUNT) \
			--program build/pcaps/fo$${f}_$$p.dpctl || exit 1; \
	done; done
