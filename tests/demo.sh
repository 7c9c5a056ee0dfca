#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The README's walk-through, a full COLO cycle with colosetup, run as
# written: two "hosts" in one VM joined by a real NBD link on loopback.
#
#   secondary host: /dev/ram0 base, /dev/ram1 hidden, /dev/ram2 active
#   primary host:   /dev/ram3 its disk, /dev/ram6 its metadata device;
#                   /dev/ram4, /dev/ram5 for its hidden and active when it
#                   comes back as the secondary
#
# The primary's writes reach the secondary's base through the colo
# primary's mirror, /dev/nbd0, qemu-nbd and the colo-ingress; the
# secondary VM's own writes diverge and are dropped at each checkpoint;
# the primary dies, the secondary fails over, its data is checked, and the
# old primary comes back as the new secondary, resynced with the dirty
# chunks only, its own leftover writes (read from its metadata) included.
. /tests/lib.sh

MIB=${COLO_T_DEMO_MIB:-32}
brd_setup 7 "$MIB" || t_fail "brd: the RAM disks of an earlier test are still in use"
ip link set lo up
say() { echo "# demo: $*"; }
sum() { direct_sum "$1"; }
# "VM" writes: N random 4 KiB blocks of seeded data at seeded places.
vm_writes() {	# DEV SEED N
	fio --name=vm --filename="$1" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=psync --number_ios="$3" --randseed="$2" \
		--buffer_pattern=0x$(printf '%08x' "$2") --eta=never > /dev/null 2>&1
}
step() {	# DESC CMD...: show it, run it, check it succeeded
	local desc=$1
	shift
	echo "# \$ $*"
	check "$desc" "$@"
}
dd if=/dev/urandom of=/dev/ram0 bs=1M count=$MIB oflag=direct 2>/dev/null	# stale base
dd if=/dev/urandom of=/dev/ram3 bs=1M count=$MIB oflag=direct 2>/dev/null	# primary's disk

say "1. secondary host: the colo device, its ingress, exported over NBD"
step "create the secondary" colosetup create svm --secondary /dev/ram0 /dev/ram1 /dev/ram2 --chunk 4k
step "create its ingress" colosetup ingress svm
step "export the ingress" qemu-nbd --fork --persistent --format=raw --cache=none --aio=native \
	--bind=127.0.0.1 --port=10809 --export-name=svm /dev/mapper/svm-ingress

say "2. primary host: its disk as a colo primary, mirrored to the secondary"
step "create the primary" colosetup create pvm --primary /dev/ram3 --chunk 4k --metadata /dev/ram6
step "connect to the secondary" /usr/sbin/nbd-client -N svm 127.0.0.1 10809 /dev/nbd0
step "initial sync" colosetup mirror start pvm /dev/nbd0 --full --wait
step "first checkpoint" colosetup checkpoint svm
check_eq "after the first checkpoint the secondary VM sees the primary's disk" "$(sum /dev/mapper/pvm)" "$(sum /dev/mapper/svm)"

say "3. COLO runs: both VMs write; each checkpoint realigns the secondary"
for round in 1 2 3; do
	vm_writes /dev/mapper/pvm "$round" 64		# primary VM (reaches the secondary's base)
	vm_writes /dev/mapper/svm "$((round + 100))" 16	# secondary VM (diverges)
	colosetup status svm | sed 's/^/# /'
	step "checkpoint $round" colosetup checkpoint svm
	check_eq "checkpoint $round: secondary VM's disk equals the primary's" "$(sum /dev/mapper/pvm)" "$(sum /dev/mapper/svm)"
done
vm_writes /dev/mapper/pvm 4 32
vm_writes /dev/mapper/svm 104 8
view=$(sum /dev/mapper/svm)

say "4. the primary host dies"
step "cut the link" /usr/sbin/nbd-client -d /dev/nbd0
vm_writes /dev/mapper/pvm 5 8		# the old primary's last writes: never sent
colosetup status pvm | sed 's/^/# /'
pvm_dirty=$(colosetup status --json pvm | sed 's/.*"dirty":\([0-9]*\).*/\1/')
check "the old primary's last writes are dirty ($pvm_dirty chunks)" test "$pvm_dirty" -gt 0

say "5. secondary host: failover; its VM carries on at once"
step "failover" colosetup failover svm --wait
colosetup status svm | sed 's/^/# /'
check_eq "the VM's view is unchanged by the failover" "$view" "$(sum /dev/mapper/svm)"
check_eq "base holds the VM's view once the commit is done" "$view" "$(sum /dev/ram0)"
check_fails "the fenced ingress refuses the old primary's writes" \
	dd if=/dev/zero of=/dev/mapper/svm-ingress bs=4096 count=1 oflag=direct conv=notrunc
killall qemu-nbd
for i in 1 2 3 4 5 6 7 8 9 10; do colosetup remove svm-ingress > /dev/null 2>&1 && break; sleep 0.5; done
check_fails "the ingress is removed" dmsetup info svm-ingress
vm_writes /dev/mapper/svm 200 16	# the new primary's VM goes on writing

say "6. the old primary host comes back as the new secondary"
step "retire the old primary's device" colosetup remove pvm
step "export its leftover writes" sh -c "colosetup metadata export /dev/ram6 > /tmp/leftovers"
sed 's/^/# /' /tmp/leftovers
step "import them into the new primary" colosetup dirty import svm /tmp/leftovers
step "wipe the old metadata" colosetup metadata wipe /dev/ram6 --force
step "create the new secondary" colosetup create pvm --secondary /dev/ram3 /dev/ram4 /dev/ram5 --chunk 4k
step "create its ingress" colosetup ingress pvm
step "export it" qemu-nbd --fork --persistent --format=raw --cache=none --aio=native \
	--bind=127.0.0.1 --port=10810 --export-name=pvm /dev/mapper/pvm-ingress
step "new primary connects" /usr/sbin/nbd-client -N pvm 127.0.0.1 10810 /dev/nbd1
dirty=$(colosetup status --json svm | sed 's/.*"dirty":\([0-9]*\).*/\1/')
say "resync with the $dirty dirty chunks only"
step "resync the dirty chunks" colosetup mirror start svm /dev/nbd1 --dirty --wait
step "checkpoint the new secondary" colosetup checkpoint pvm
check_eq "the new secondary's disk equals the new primary's" "$(sum /dev/mapper/svm)" "$(sum /dev/mapper/pvm)"
check_eq "the raw disks are equal" "$(sum /dev/ram0)" "$(sum /dev/ram3)"
colosetup list | sed 's/^/# /'

# tear down
colosetup mirror stop svm > /dev/null
/usr/sbin/nbd-client -d /dev/nbd1 > /dev/null 2>&1
killall qemu-nbd
sleep 1
colosetup remove pvm > /dev/null
colosetup remove svm > /dev/null
t_done
