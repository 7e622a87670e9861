/* mutator_client.c - see mutator_client.h. */
#define _GNU_SOURCE
#include "mutator_client.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mapsparse.h"

static char *pair(const char *perms, const char *name, size_t name_len)
{
	char *s = malloc(name_len + 6);
	if (!s)
		abort();
	memcpy(s, perms, 4);
	s[4] = ' ';
	memcpy(s + 5, name, name_len);
	s[5 + name_len] = 0;
	return s;
}

int mutator_start(struct mutator *m, const char *bin, int threads)
{
	memset(m, 0, sizeof *m);
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		perror("pipe");
		return -1;
	}
	char nthreads[16];
	snprintf(nthreads, sizeof nthreads, "%d", threads);
	m->pid = fork();
	if (m->pid < 0) {
		perror("fork");
		return -1;
	}
	if (m->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(bin, "mutator", "-t", nthreads, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	m->to = fdopen(in[1], "w");
	m->from = fdopen(out[0], "r");
	static const char *anon[] = {"---p", "r--p", "rw-p", "r-xp", "rwxp"};
	for (size_t i = 0; i < 5; i++)
		m->churn[m->n_churn++] = pair(anon[i], "", 0);
	char line[8192];
	while (fgets(line, sizeof line, m->from)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "untouched ", 10) == 0 && m->n_untouched < MUT_MAX) {
			struct mut_untouched *u = &m->untouched[m->n_untouched++];
			int name_at = 0;
			unsigned long s, e, o;
			if (sscanf(line, "untouched %63s %lx %lx %4s %lx %n", u->label, &s, &e, u->perms, &o, &name_at) < 5) {
				fprintf(stderr, "mutator: bad line %s\n", line);
				return -1;
			}
			u->start = s, u->end = e, u->offset = o;
			/* %n after a trailing space: the name is the rest (may be empty) */
			snprintf(u->name, sizeof u->name, "%s", name_at ? line + name_at : "");
		} else if (strncmp(line, "window ", 7) == 0 && m->n_windows < MUT_MAX) {
			unsigned long s, e;
			sscanf(line, "window %lx %lx", &s, &e);
			m->windows[m->n_windows][0] = s;
			m->windows[m->n_windows++][1] = e;
		} else if (strncmp(line, "allow ", 6) == 0 && m->n_churn < sizeof m->churn / sizeof m->churn[0]) {
			m->churn[m->n_churn++] = pair(line + 6, line + 11, strlen(line + 11));
		} else if (strncmp(line, "ready ", 6) == 0) {
			struct maps_table t;
			if (maps_load(m->pid, &t) != 0) {
				fprintf(stderr, "mutator: cannot read its maps\n");
				return -1;
			}
			for (size_t i = 0; i < t.count && m->n_baseline < 1024; i++) {
				char perms[5];
				maps_perms_text(t.entries[i].perms, perms);
				m->baseline[m->n_baseline++] = pair(perms, t.entries[i].name, t.entries[i].name_len);
			}
			maps_free(&t);
			fputs("go\n", m->to);
			fflush(m->to);
			return 0;
		}
	}
	fprintf(stderr, "mutator exited before it was ready\n");
	return -1;
}

int mutator_stop(struct mutator *m)
{
	fputs("exit\n", m->to);
	fclose(m->to);
	char line[256];
	while (fgets(line, sizeof line, m->from))
		sscanf(line, "ops %llu", &m->ops);
	fclose(m->from);
	int st;
	if (waitpid(m->pid, &st, 0) != m->pid)
		return -1;
	for (size_t i = 0; i < m->n_baseline; i++)
		free(m->baseline[i]);
	for (size_t i = 0; i < m->n_churn; i++)
		free(m->churn[i]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool in_list(char *const *list, size_t n, const char *perms, const char *name, size_t name_len)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = list[i];
		if (memcmp(p, perms, 4) == 0 && strlen(p + 5) == name_len && memcmp(p + 5, name, name_len) == 0)
			return true;
	}
	return false;
}

bool mutator_pair_allowed(const struct mutator *m, uint64_t start, uint64_t end, const char *perms,
			  const char *name, size_t name_len)
{
	if (in_list(m->baseline, m->n_baseline, perms, name, name_len))
		return true;
	for (size_t i = 0; i < m->n_windows; i++)
		if (start < m->windows[i][1] && end > m->windows[i][0])
			return in_list(m->churn, m->n_churn, perms, name, name_len);
	return false;
}
