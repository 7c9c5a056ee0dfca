# SPDX-License-Identifier: GPL-2.0
#
# dm-colo: top-level Makefile.
#
#   make            build dm-colo.ko (for KDIR) and colosetup
#   make demo       install what is missing, then run the demo in a VM
#   make check      install what is missing, then run every test
#   make check-debug the debug lane alone (make check runs it too)
#   make bench      the benchmark on every kernel: bench/*.md, the README's table
#   make deb        the Debian packages dm-colo-dkms and colosetup, in .build/deb
#   make deb-check  build them, lintian, install both here, DKMS for both kernels, purge
#   make install    install the module, colosetup, its completion, udev rules and colo-monitor.service on this host
#
# KDIR defaults to the running kernel's build tree when it exists, else the
# newest installed Debian linux-headers-*.

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	  $(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1))
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
CC ?= gcc
USER_CFLAGS ?= -O2 -g -Wall -Wextra -Werror

.PHONY: all module userspace clean check check-debug soak demo install lint kunit vm-shell dkms-check deps bench deb deb-check

all: module userspace

module:
	@test -n "$(KDIR)" || { echo "no kernel headers found: run scripts/deps.sh or set KDIR"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userspace:
	$(MAKE) -C userspace CC="$(CC)" CFLAGS="$(USER_CFLAGS)"

clean:
	-[ -z "$(KDIR)" ] || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C userspace clean
	rm -rf .build

deps:
	scripts/deps.sh

check:
	scripts/check.sh

# The debug lane (README, Tests): lockdep, KASAN, kmemleak, UBSAN.
check-debug:
	scripts/check.sh vm-debug

# The VM tests at long sizes: 200000 model-checker ops per chunk size, 200
# failover runs per chunk size, 30000 mirror-mode ops, 40000 ops per
# fleece model-checker run (66-fleece), 10 fio rounds; leg
# faults: 40000 ops with 16 faults per leg and chunk size (1, 8, 128), 32
# writes per writer in the primary-side fault cases; 50000 fuzzed table
# lines and 50000 messages, 20000 ops per lifecycle model-checker run and
# 30 rounds of each message race; 20 rounds of the reload model checker
# runs; 200 random power cuts (87-powerloss); 500 host-crash points per kernel
# (scripts/crash.sh). The debug lane (vm-debug) runs at these sizes too,
# with its soak: tests, and the release lanes with tests/soak-only's
# (COLO_SOAK).
soak:
	FSX_OPS=$(or $(SOAK_OPS),200000) FSX_FAILOVER_RUNS=$(or $(SOAK_RUNS),200) \
	FSX_MIRROR_OPS=$(or $(SOAK_MIRROR_OPS),30000) FSX_FLEECE_OPS=40000 \
	COLO_T_FAULT_OPS=$(or $(SOAK_FAULT_OPS),40000) COLO_T_FAULT_EPISODES=16 \
	COLO_T_FAULT_CHUNKS="1 8 128" COLO_T_FAULT_WRITES=32 COLO_T_MAP_CHUNKS="1 8 128" \
	COLO_T_FUZZ_TABLES=$(or $(SOAK_FUZZ),50000) COLO_T_FUZZ_MSGS=$(or $(SOAK_FUZZ),50000) \
	COLO_T_LIFE_OPS=20000 COLO_T_LIFE_RACES=30 COLO_T_LIFE_CF=10 COLO_T_RELOAD_ROUNDS=20 COLO_T_PL_CUTS=200 COLO_VM_TIMEOUT=21600 COLO_SOAK=1 \
	FIO_ROUNDS=10 COLO_CRASH_POINTS=$(or $(SOAK_CRASH),500) \
	scripts/check.sh $(addprefix vm-,$(shell awk '!/^\#/ && NF { print $$1 }' kernel/kernels)) \
	$(addprefix crash-,$(shell awk '!/^\#/ && NF { print $$1 }' kernel/kernels)) vm-debug

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

lint:
	scripts/lint.sh

kunit:
	scripts/kunit.sh

vm-shell:
	scripts/deps.sh
	scripts/vm.sh --kernel $(or $(KERNEL),6.1) --shell

dkms-check:
	scripts/dkms-check.sh

deb:
	scripts/deb-build.sh

deb-check:
	scripts/deb-check.sh

install: all
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(shell cat $(KDIR)/include/config/kernel.release)
	$(MAKE) -C userspace install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) SBINDIR=$(SBINDIR) \
		MANDIR=$(MANDIR)
