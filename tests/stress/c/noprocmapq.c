/* noprocmapq: run a program as if the kernel had no PROCMAP_QUERY.
 *
 *   noprocmapq ERRNO PROGRAM [ARG...]
 *
 * ERRNO is ENOTTY (a kernel before 6.11), EPERM or ENOSYS (a hostile
 * sandbox). It sets PR_SET_NO_NEW_PRIVS, installs a seccomp filter that
 * makes ioctl(fd, PROCMAP_QUERY, ...) fail with ERRNO (every other system
 * call is allowed) and execs PROGRAM. The filter is inherited by every
 * thread and child of PROGRAM and cannot be removed. The ioctl command is
 * compared on its low 32 bits only, as the kernel reads it (unsigned int).
 * Exit status 127 if the filter cannot be installed or PROGRAM not run.
 *
 * Before exec it checks that the filter is in place (a real PROCMAP_QUERY
 * on /proc/self/maps fails with ERRNO) and removes PROCMAPQ_REQUIRE_IOCTL
 * from the environment: under the mask the tests that need the ioctl may
 * skip (tests/c/check.h, internal/testtarget/ioctl.go).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROCMAP_QUERY 0xC0686611u

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "unsupported architecture"
#endif

/* Low half of a 64-bit syscall argument (little endian). */
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(__u64))

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: noprocmapq ENOTTY|EPERM|ENOSYS PROGRAM [ARG...]\n");
		return 127;
	}
	int err;
	if (strcmp(argv[1], "ENOTTY") == 0)
		err = ENOTTY;
	else if (strcmp(argv[1], "EPERM") == 0)
		err = EPERM;
	else if (strcmp(argv[1], "ENOSYS") == 0)
		err = ENOSYS;
	else {
		fprintf(stderr, "noprocmapq: unknown errno %s\n", argv[1]);
		return 127;
	}
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROCMAP_QUERY, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = {.len = sizeof prog / sizeof prog[0], .filter = prog};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		perror("noprocmapq: PR_SET_NO_NEW_PRIVS");
		return 127;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
		perror("noprocmapq: seccomp");
		return 127;
	}
	/* The mask really is there: the ioctl on our own maps fails so (the
	 * filter answers before the kernel looks at the argument). */
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	unsigned char q[104] = {104};
	if (fd < 0 || ioctl(fd, PROCMAP_QUERY, q) != -1 || errno != err) {
		fprintf(stderr, "noprocmapq: PROCMAP_QUERY is not masked with %s (errno %d)\n", argv[1], errno);
		return 127;
	}
	close(fd);
	unsetenv("PROCMAPQ_REQUIRE_IOCTL");
	execvp(argv[2], argv + 2);
	fprintf(stderr, "noprocmapq: exec %s: %s\n", argv[2], strerror(errno));
	return 127;
}
