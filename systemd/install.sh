#!/bin/sh
# `make install` and `make uninstall`: what goes where, in one table.
#   systemd/install.sh install|uninstall
# Honours DESTDIR (staging root for packages) and PREFIX (default
# /usr/local); SYSCONFDIR (/etc), UNITDIR, SYSUSERSDIR and TMPFILESDIR can be
# set too. With no DESTDIR, as root, on a host that runs systemd, install
# also creates the user and /run/sluice and reloads systemd, and uninstall
# first stops and disables the units and unloads the pinned probes: the
# commands a package's maintainer scripts would run.
set -eu

B=${B:-build}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SBINDIR=$PREFIX/sbin
BINDIR=$PREFIX/bin
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-$PREFIX/lib/tmpfiles.d}
SHARE=$PREFIX/share/sluice
DOC=$PREFIX/share/doc/sluice
UNITS="sluice-loader.service sluice-processor.service"

# mode, source, destination, kind: bin, unit (paths rewritten for PREFIX),
# conf (never overwritten; removed only if unchanged), file.
manifest() {
	cat <<EOF
0755 $B/sluice-loader $SBINDIR/sluice-loader bin
0755 $B/sluice-processor $SBINDIR/sluice-processor bin
0755 $B/sluicectl $BINDIR/sluicectl bin
0644 systemd/sluice-loader.service $UNITDIR/sluice-loader.service unit
0644 systemd/sluice-processor.service $UNITDIR/sluice-processor.service unit
0644 systemd/sluice.sysusers $SYSUSERSDIR/sluice.conf file
0644 systemd/sluice.tmpfiles $TMPFILESDIR/sluice.conf file
0644 systemd/sluice.conf $SYSCONFDIR/sluice/sluice.conf conf
0644 systemd/loader.env $SYSCONFDIR/sluice/loader.env conf
0644 systemd/sluice.logrotate $SYSCONFDIR/logrotate.d/sluice conf
0644 processor/sluice.conf.example $DOC/sluice.conf.example file
0644 README.md $DOC/README.md file
0644 systemd/README.md $DOC/systemd.md file
0644 $B/sluice.bpf.o $PREFIX/lib/sluice/sluice.bpf.o file
0644 $B/snapshot.bpf.o $PREFIX/lib/sluice/snapshot.bpf.o file
EOF
	for f in schema/README.md schema/[0-9][0-9][0-9]_*.sql; do
		echo "0644 $f $SHARE/schema/$(basename "$f") file"
	done
}

# Only a live install on a systemd host touches users, /run and PID 1.
live() { [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && [ -d /run/systemd/system ]; }

install_one() { # mode src dst kind
	if [ "$4" = conf ] && [ -e "$DESTDIR$3" ]; then
		echo "  keep     $3 (exists; the shipped default is $2)"
		return
	fi
	mkdir -p "$DESTDIR$(dirname "$3")"
	if [ "$4" = unit ]; then
		sed "s|/usr/local/|$PREFIX/|g" "$2" >"$DESTDIR$3.tmp"
		chmod "$1" "$DESTDIR$3.tmp"
		mv "$DESTDIR$3.tmp" "$DESTDIR$3"
	else
		install -m "$1" "$2" "$DESTDIR$3"
	fi
	echo "  install  $3"
}

remove_one() { # mode src dst kind
	[ -e "$DESTDIR$3" ] || return 0
	if [ "$4" = conf ] && ! cmp -s "$2" "$DESTDIR$3"; then
		echo "  keep     $3 (changed since install)"
		return
	fi
	rm -f "$DESTDIR$3"
	echo "  remove   $3"
}

do_install() {
	manifest | while read -r mode src dst kind; do install_one "$mode" "$src" "$dst" "$kind"; done
	live || return 0
	systemd-sysusers "$SYSUSERSDIR/sluice.conf"
	systemd-tmpfiles --create "$TMPFILESDIR/sluice.conf"
	systemctl daemon-reload
	echo "sluice: installed; start it with: systemctl enable --now $UNITS"
}

# The user sluice, its group and what it wrote (/var/lib/sluice,
# /var/log/sluice) stay: files may still be owned by them, and the metadata
# store is the user's data.
do_uninstall() {
	if live; then
		systemctl disable --now $UNITS 2>/dev/null || true
		if [ -x "$SBINDIR/sluice-loader" ]; then
			args=$(. "$SYSCONFDIR/sluice/loader.env" 2>/dev/null; echo "${SLUICE_LOADER_ARGS:-}")
			# shellcheck disable=SC2086 # the variable holds flags
			"$SBINDIR/sluice-loader" --unload $args || true
		fi
	elif command -v systemctl >/dev/null; then
		systemctl --root="${DESTDIR:-/}" disable $UNITS >/dev/null 2>&1 || true
	fi
	manifest | while read -r mode src dst kind; do remove_one "$mode" "$src" "$dst" "$kind"; done
	for d in "$SHARE/schema" "$SHARE" "$DOC" "$PREFIX/lib/sluice" "$SYSCONFDIR/sluice"; do
		rmdir "$DESTDIR$d" 2>/dev/null || true
	done
	if live; then systemctl daemon-reload; fi
}

case "${1:-}" in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
