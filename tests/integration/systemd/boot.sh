#!/bin/bash
# PID 1 of a fresh pid, mount, cgroup, uts, ipc and network namespace (see
# lib.sh's sd_boot) until it execs a real systemd. It gives that systemd a machine of
# its own made from the host's files, so that nothing it or the test does
# reaches the host:
#   /etc /usr /var  overlays whose upper dirs are in $1 (make install, the
#                   sluice user, /var/lib/sluice, the journal land there)
#   /run /tmp /var/tmp /dev/shm   fresh tmpfs (systemd-tmpfiles empties /tmp)
#   /dev            a tmpfs with the few nodes a service needs; no /dev/kmsg
#   /sys/fs/bpf     a fresh bpffs: whatever the loader pins dies with us
#   /sys/fs/cgroup  cgroup2 rooted at our cgroup namespace (lib.sh made it)
#   /sys, /proc/sys read-only, as in a container; container=sluice-test
#                   tells systemd so (no kernel command line, no sysctls)
# and masks the units that would still touch the host (clock, pstore, ...).
#   boot.sh STATE_DIR CHECKOUT
set -eu
S=$1
TOP=$2

mount --make-rprivate /
for d in etc usr var; do
	mkdir -p "$S/ovl/$d/up" "$S/ovl/$d/work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/ovl/$d/up,workdir=$S/ovl/$d/work" "/$d"
done
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir /run/sluice-test
mount --bind "$S/share" /run/sluice-test # shared with the test, on the host

umount -R /dev # nothing stacked: systemd treats the first mount on a path as the one
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r name major minor <<<"$n"
	mknod -m 0666 "/dev/$name" c "$major" "$minor"
done
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
# systemd's own console output goes to a file
: >"$S/console.log"
touch /dev/console
mount --bind "$S/console.log" /dev/console
# The checkout may itself live below /tmp (CI clones anywhere): keep it
# visible at its own path through the fresh tmpfs below.
keep=""
case "$TOP" in /tmp/* | /var/tmp/*)
	keep=/run/sluice-checkout
	mkdir -p "$keep"
	mount --bind "$TOP" "$keep"
	;;
esac
# last: $S is below the host's /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
if [ -n "$keep" ]; then
	mkdir -p "$TOP"
	mount --bind "$keep" "$TOP"
	umount "$keep"
fi

umount /sys/fs/bpf
mount -t bpf -o mode=0700 bpf /sys/fs/bpf
umount -R /sys/fs/cgroup
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -o remount,bind,ro /sys
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys

hostname sluice-test
ip link set lo up # its own loopback: no port of the host's is in the way
M=/etc/systemd/system
for u in systemd-timesyncd.service systemd-pstore.service systemd-sysctl.service \
	systemd-modules-load.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
	kmod-static-nodes.service systemd-tmpfiles-setup-dev.service systemd-firstboot.service \
	systemd-repart.service systemd-pcrphase.service systemd-pcrphase-sysinit.service \
	systemd-random-seed.service systemd-hwdb-update.service systemd-journald-audit.socket \
	sys-kernel-config.mount sys-kernel-debug.mount getty.target timers.target \
	e2scrub_reap.service nginx.service postgresql.service prometheus.service; do
	ln -sf /dev/null "$M/$u"
done
# boot as far as basic.target only: nothing of the host's own services runs
ln -sf /lib/systemd/system/basic.target "$M/default.target"

exec env -i container=sluice-test PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	/lib/systemd/systemd --system --log-target=journal
