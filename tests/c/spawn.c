/* spawn: see spawn.h. */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

const char *target_path(void)
{
	const char *env = getenv("PROCMAPQ_TARGET");
	return env && *env ? env : "build/target";
}

static void free_target(struct spawned_target *t)
{
	free(t->maps);
	t->maps = NULL;
	t->map_count = 0;
	if (t->from_child)
		fclose(t->from_child);
	t->from_child = NULL;
	if (t->to_child >= 0)
		close(t->to_child);
	t->to_child = -1;
}

int target_spawn(struct spawned_target *t, const char *const *args)
{
	int in[2], out[2];
	memset(t, 0, sizeof *t);
	t->to_child = -1;
	t->maps_fd = -1;
	const char *path = target_path();
	if (access(path, X_OK) != 0) {
		int err = errno;
		fprintf(stderr, "spawn: %s: %s (build it with make, or set PROCMAPQ_TARGET)\n", path, strerror(err));
		return -err;
	}
	if (pipe2(in, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) != 0) {
		int err = errno;
		close(in[0]);
		close(in[1]);
		return -err;
	}
	const char *argv[32] = {"target"};
	size_t argc = 1;
	for (; args && args[argc - 1] && argc < 31; argc++)
		argv[argc] = args[argc - 1];
	argv[argc] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -err;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec: the parent
		 * may have loaded the Go runtime. */
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->pid = pid;
	t->to_child = in[1];
	FILE *f = fdopen(out[0], "r");
	if (!f) {
		close(out[0]);
		target_kill(t, 0);
		return -ENOMEM;
	}
	char line[256];
	size_t cap = 0;
	int ready = 0;
	while (!ready && fgets(line, sizeof line, f)) {
		struct target_mapping m;
		unsigned long long s, e;
		int fd;
		if (sscanf(line, "map %63s %llx %llx", m.label, &s, &e) == 3) {
			if (t->map_count == cap) {
				cap = cap ? cap * 2 : 32;
				struct target_mapping *bigger = realloc(t->maps, cap * sizeof *bigger);
				if (!bigger)
					break;
				t->maps = bigger;
			}
			m.start = s;
			m.end = e;
			t->maps[t->map_count++] = m;
		} else if (sscanf(line, "mapsfd %d", &fd) == 1) {
			t->maps_fd = fd;
		} else if (strncmp(line, "ready ", 6) == 0) {
			ready = 1;
		}
	}
	/* Kept open: after "exec" the target prints "ready" again. */
	t->from_child = f;
	if (!ready) {
		fprintf(stderr, "spawn: %s exited before it was ready\n", path);
		target_kill(t, 0);
		return -ECHILD;
	}
	return 0;
}

const struct target_mapping *target_mapping_find(const struct spawned_target *t, const char *label)
{
	for (size_t i = 0; i < t->map_count; i++)
		if (strcmp(t->maps[i].label, label) == 0)
			return &t->maps[i];
	return NULL;
}

/* write_ignoring_sigpipe writes to the target's stdin. If the target is
 * already gone the write raises SIGPIPE: block it for this write and drop
 * it, so a dead target cannot kill the test. */
static ssize_t write_ignoring_sigpipe(int fd, const char *s)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t n = write(fd, s, strlen(s));
	if (n < 0 && errno == EPIPE) {
		const struct timespec no_wait = {0, 0};
		sigtimedwait(&pipe_set, NULL, &no_wait);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n;
}

int target_exec(struct spawned_target *t)
{
	if (write_ignoring_sigpipe(t->to_child, "exec\n") != 5)
		return -EPIPE;
	char line[256];
	while (fgets(line, sizeof line, t->from_child))
		if (strncmp(line, "ready ", 6) == 0)
			return 0;
	return -ECHILD;
}

int target_end(struct spawned_target *t)
{
	int status = -1;
	if (t->pid > 0) {
		write_ignoring_sigpipe(t->to_child, "exit\n");
		close(t->to_child);
		t->to_child = -1;
		int st;
		while (waitpid(t->pid, &st, 0) < 0 && errno == EINTR)
			;
		status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		t->pid = 0;
	}
	free_target(t);
	return status;
}

void target_kill(struct spawned_target *t, int keep_zombie)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		if (keep_zombie) {
			/* Wait until it is a zombie without reaping it. */
			siginfo_t si;
			while (waitid(P_PID, (id_t)t->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
				;
			return;
		}
		target_reap(t);
	}
	free_target(t);
}

void target_reap(struct spawned_target *t)
{
	if (t->pid > 0) {
		int st;
		while (waitpid(t->pid, &st, 0) < 0 && errno == EINTR)
			;
		t->pid = 0;
	}
	free_target(t);
}
