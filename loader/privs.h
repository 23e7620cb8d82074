/* Shedding privilege once set-up is done, in a fixed order, fatal on
 * failure: (1) every capability and the bounding set, before nng starts its
 * threads (they inherit the empty set); (2) after the socket exists, a
 * seccomp allow-list of the syscalls the run loop and the exit path make. */
#ifndef SLUICE_PRIVS_H
#define SLUICE_PRIVS_H

/* Keeps the group "sluice" (if it exists) as effective gid until
 * privs_socket_done(), so the socket file nng creates belongs to it. */
void privs_drop_caps(void);
void privs_socket_done(void);
void privs_seccomp(void);

#endif
