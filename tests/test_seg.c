/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for librtrseg (dataplane/seg.c): the shared-memory segments
 * between rtr-dataplane and its attachers.
 *
 * No EAL and no running dataplane: the test process plays the dataplane
 * itself (it calls rtr_seg_create, so its pid is the live dp_pid), and a
 * small in-test loop (sim_poll) consumes commands with rtr_seg_cmd_take()
 * under the same session/sequence rule as rtr_cmd_poll() in cmd.c and
 * answers on the reply ring. Other controllers are forked children; they
 * report through pipes and exit codes, always leave with _exit() and never
 * run cmocka assertions.
 *
 * Every instance is named t_seg_<pid>_<n>; the per-test teardown destroys
 * it and unlinks its segments even when a test fails, and the group
 * teardown removes anything left under /dev/shm/rtrelay.t_seg_<pid>_*.
 *
 * Build (see the Makefile): gcc -Idataplane $(pkg-config --cflags libdpdk)
 *   tests/test_seg.c build/librtrseg.a -lcmocka $(pkg-config --libs libdpdk)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "rtr_seg.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define T_WORKERS	2
#define T_PORTS		1
#define T_APPS		4
#define T_UDP_PORT	7700

#define MAX_ATT		4
#define MAX_KIDS	4
#define MAX_FDS		8

#define PAT_LEN		32	/* recognisable "key material" in bodies */
#define TAG_LEN		8	/* per-command tag, echoed in the reply body */
#define SIM_BATCH	16
#define CALL_MS		5000
#define CHILD_MS	10000

/* ------------------------------------------------------------------ */
/* In-test dataplane: the session/sequence rule of rtr_cmd_poll().     */

struct dp_sim {
	struct rtr_seg *seg;	/* the creator's handle */
	uint32_t cur_session;
	uint32_t expect_seq;
	unsigned int stale;	/* wrong session or out of sequence */
	unsigned int invalid;
	unsigned int answered;
	unsigned int lost;	/* reply ring full */
	unsigned int want;	/* thread: stop after this many replies */
	int stop;
};

struct fx {
	char inst[RTR_INSTANCE_MAX + 1];
	struct rtr_seg *dp;		/* created: this process is the dataplane */
	struct rtr_seg *old;		/* a creator handle whose files were replaced */
	struct rtr_seg *att[MAX_ATT];
	pid_t kids[MAX_KIDS];
	int fds[MAX_FDS];
	struct dp_sim sim;
	pthread_t thr;
	int thr_running;
};

static unsigned int inst_counter;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
nap_us(unsigned int us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static void
fill_pattern(uint8_t *p)
{
	unsigned int i;

	for (i = 0; i < PAT_LEN; i++)
		p[i] = (uint8_t)(0x5a ^ (i * 29 + 7));
}

/* Does [base+from, base+to) hold the 32-byte pattern anywhere? */
static int
region_has_pattern(const void *base, uint64_t from, uint64_t to)
{
	uint8_t pat[PAT_LEN];

	fill_pattern(pat);
	return memmem((const uint8_t *)base + from, (size_t)(to - from), pat, PAT_LEN) != NULL;
}

/* A command body: pattern, then an 8-byte tag. */
static void
make_body(uint8_t *body, const char *tag)
{
	fill_pattern(body);
	memset(body + PAT_LEN, 0, TAG_LEN);
	memcpy(body + PAT_LEN, tag, strnlen(tag, TAG_LEN));
}

static void
make_tag(char *tag, const char *prefix, unsigned int i)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%s%u", prefix, i);
	memset(tag, 0, TAG_LEN + 1);
	memcpy(tag, buf, strnlen(buf, TAG_LEN));
}

static int
sim_status(const struct rtr_msg *m)
{
	/* something other than 0 to tell the replies apart */
	return m->msg_id == RTR_MSG_APP_DEL ? -ENOENT : 0;
}

static void
sim_reply(struct dp_sim *s, const struct rtr_msg *m, int status)
{
	struct rtr_reply r;

	memset(&r, 0, sizeof(r));
	r.context = m->context;
	r.status = status;
	r.msg_id = m->msg_id;
	r.version = RTR_MSG_VERSION;
	r.seq = m->seq;
	memcpy(r.body, m->body + PAT_LEN, TAG_LEN);	/* the tag, never the pattern */
	if (rte_ring_sp_enqueue_elem(s->seg->reply, &r, sizeof(r)) == 0)
		s->answered++;
	else
		s->lost++;
}

/* One batch, as rtr_cmd_poll() does it. Returns the replies sent. */
static unsigned int
sim_poll(struct dp_sim *s)
{
	struct rtr_msg msgs[SIM_BATCH];
	unsigned int i, n, before = s->answered;
	uint32_t session;

	n = rtr_seg_cmd_take(s->seg, msgs, SIM_BATCH);
	session = __atomic_load_n(&s->seg->ctl->ctl_session, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		struct rtr_msg *m = &msgs[i];

		if (session == 0 || m->session != session) {
			s->stale++;
			continue;
		}
		if (session != s->cur_session) {
			s->cur_session = session;
			s->expect_seq = 1;
		}
		if (m->seq != s->expect_seq) {
			s->stale++;
			continue;
		}
		s->expect_seq++;
		if (m->version != RTR_MSG_VERSION || m->msg_id == 0 ||
		    m->msg_id > RTR_MSG_MAX) {
			s->invalid++;
			sim_reply(s, m, -EPROTONOSUPPORT);
			continue;
		}
		sim_reply(s, m, sim_status(m));
	}
	memset(msgs, 0, sizeof(msgs));
	__asm__ __volatile__("" : : "r"(msgs) : "memory");
	return s->answered - before;
}

/* Poll in this thread until `want` replies in all or a deadline. */
static void
sim_run(struct dp_sim *s, unsigned int want)
{
	uint64_t deadline = now_ns() + (uint64_t)CALL_MS * 1000000ULL;

	while (s->answered < want && now_ns() < deadline)
		if (sim_poll(s) == 0)
			nap_us(50);
}

static void *
sim_thread(void *arg)
{
	struct dp_sim *s = arg;
	uint64_t deadline = now_ns() + (uint64_t)CALL_MS * 1000000ULL;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && s->answered < s->want &&
	       now_ns() < deadline)
		if (sim_poll(s) == 0)
			nap_us(50);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Fixture: everything a test creates is released in teardown.        */

static void
inst_name(char *buf, size_t len)
{
	snprintf(buf, len, "t_seg_%d_%u", (int)getpid(), ++inst_counter);
}

static void
shm_path(char *buf, size_t len, const char *inst, const char *kind)
{
	snprintf(buf, len, "/dev/shm/rtrelay.%s.%s", inst, kind);
}

static void
unlink_instance(const char *inst)
{
	char name[96];

	snprintf(name, sizeof(name), "/rtrelay.%s.ctl", inst);
	shm_unlink(name);
	snprintf(name, sizeof(name), "/rtrelay.%s.stats", inst);
	shm_unlink(name);
}

/* Drop a creator handle without unlinking the (new) files of its name. */
static void
forget_seg(struct rtr_seg *seg)
{
	if (seg == NULL)
		return;
	munmap(seg->ctl, seg->ctl_size);
	munmap(seg->stats, seg->stats_size);
	free(seg->stash);
	free(seg);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned int i;

	if (f == NULL)
		return -1;
	inst_name(f->inst, sizeof(f->inst));
	for (i = 0; i < MAX_FDS; i++)
		f->fds[i] = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	unsigned int i;

	if (f->thr_running) {
		__atomic_store_n(&f->sim.stop, 1, __ATOMIC_RELEASE);
		pthread_join(f->thr, NULL);
	}
	for (i = 0; i < MAX_KIDS; i++) {
		if (f->kids[i] > 0) {
			kill(f->kids[i], SIGKILL);
			waitpid(f->kids[i], NULL, 0);
		}
	}
	for (i = 0; i < MAX_FDS; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	for (i = 0; i < MAX_ATT; i++)
		rtr_seg_detach(f->att[i]);
	forget_seg(f->old);
	rtr_seg_destroy(f->dp);
	unlink_instance(f->inst);
	free(f);
	return 0;
}

static int
dp_create_named(const char *inst, struct rtr_seg **out)
{
	struct rtr_seg_params p = {
		.instance = inst,
		.n_workers = T_WORKERS,
		.n_ports = T_PORTS,
		.max_apps = T_APPS,
		.udp_port = T_UDP_PORT,
		.rx_hold = 1,
	};

	return rtr_seg_create(&p, out);
}

static void
fx_create(struct fx *f)
{
	assert_int_equal(dp_create_named(f->inst, &f->dp), 0);
	assert_non_null(f->dp);
	f->sim.seg = f->dp;
}

static int
fx_attach(struct fx *f, unsigned int flags, struct rtr_seg **out)
{
	struct rtr_seg *s = NULL;
	unsigned int i;
	int rc;

	*out = NULL;
	rc = rtr_seg_attach(f->inst, flags, &s);
	if (rc < 0)
		return rc;
	for (i = 0; i < MAX_ATT; i++) {
		if (f->att[i] == NULL) {
			f->att[i] = s;
			*out = s;
			return 0;
		}
	}
	rtr_seg_detach(s);
	return -ENOSPC;
}

static void
fx_detach(struct fx *f, struct rtr_seg *s)
{
	unsigned int i;

	for (i = 0; i < MAX_ATT; i++)
		if (f->att[i] == s)
			f->att[i] = NULL;
	rtr_seg_detach(s);
}

static pid_t
fx_fork(struct fx *f)
{
	unsigned int i;
	pid_t pid;

	for (i = 0; i < MAX_KIDS && f->kids[i] > 0; i++)
		;
	if (i == MAX_KIDS)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid > 0)
		f->kids[i] = pid;
	return pid;
}

/* Reap a child (killing it after CHILD_MS); returns its wait status. */
static int
fx_wait(struct fx *f, pid_t pid)
{
	uint64_t deadline = now_ns() + (uint64_t)CHILD_MS * 1000000ULL;
	unsigned int i;
	int st = 0;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ns() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		nap_us(1000);
	}
	for (i = 0; i < MAX_KIDS; i++)
		if (f->kids[i] == pid)
			f->kids[i] = 0;
	return st;
}

static void
fx_pipe(struct fx *f, int p[2])
{
	unsigned int i, n = 0;

	assert_int_equal(pipe(p), 0);
	for (i = 0; i < MAX_FDS && n < 2; i++)
		if (f->fds[i] < 0)
			f->fds[i] = p[n++];
	assert_int_equal(n, 2);
}

static void
fx_close(struct fx *f, int fd)
{
	unsigned int i;

	for (i = 0; i < MAX_FDS; i++)
		if (f->fds[i] == fd)
			f->fds[i] = -1;
	close(fd);
}

static void
fx_sim_start(struct fx *f, unsigned int want)
{
	f->sim.want = want;
	__atomic_store_n(&f->sim.stop, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&f->thr, NULL, sim_thread, &f->sim), 0);
	f->thr_running = 1;
}

static void
fx_sim_join(struct fx *f)
{
	pthread_join(f->thr, NULL);
	f->thr_running = 0;
}

/* Parent side: read exactly len bytes from a child, with a timeout. */
static int
read_timeout(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (poll(&pfd, 1, CHILD_MS) <= 0)
			return -ETIMEDOUT;
		n = read(fd, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		got += (size_t)n;
	}
	return 0;
}

/* Child side helpers: never assert, always _exit. */
static void
child_write(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		_exit(250);
}

static void
child_wait_go(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(251);
}

static int
exit_code(int rc)
{
	if (rc == 0)
		return 0;
	return rc < 0 && rc > -250 ? -rc : 249;
}

static void
parent_go(int fd)
{
	assert_int_equal(write(fd, "g", 1), 1);
}

/* A pid that is certainly dead: a reaped child. */
static pid_t
dead_pid(struct fx *f)
{
	pid_t pid = fx_fork(f);
	int st;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	st = fx_wait(f, pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	return pid;
}

/*
 * A process's start time, clock ticks since boot (field 22 of
 * /proc/<pid>/stat), read here independently of the library; 0 if the
 * process is gone. The controller lock stores this for its holder.
 */
static uint64_t
start_time_of(pid_t pid)
{
	char path[64], buf[1024], *p, *tok, *save = NULL;
	unsigned long long v = 0;
	unsigned int field;
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command name may hold spaces and ')' */
	if (p == NULL)
		return 0;
	for (field = 3, tok = strtok_r(p + 1, " ", &save); tok != NULL;
	     field++, tok = strtok_r(NULL, " ", &save)) {
		if (field == 22) {
			if (sscanf(tok, "%llu", &v) != 1)
				return 0;
			break;
		}
	}
	return v;
}

static int
stat_seg(const char *inst, const char *kind, struct stat *st)
{
	char path[128];

	shm_path(path, sizeof(path), inst, kind);
	return stat(path, st) == 0 ? 0 : -errno;
}

static int
chmod_seg(const char *inst, const char *kind, mode_t mode)
{
	char path[128];

	shm_path(path, sizeof(path), inst, kind);
	return chmod(path, mode) == 0 ? 0 : -errno;
}

/* ------------------------------------------------------------------ */
/* create                                                              */

static void
test_create(void **state)
{
	struct fx *f = *state;
	struct rtr_seg *c, *s2 = NULL;
	struct rtr_ctl_hdr *h;
	struct rtr_stats_hdr *sh;
	struct stat st_ctl, st_stats, st;
	uint64_t gen;
	pid_t pid;
	int status;

	fx_create(f);
	h = f->dp->ctl;
	sh = f->dp->stats;

	/* both files, with their modes and owner */
	assert_int_equal(stat_seg(f->inst, "ctl", &st_ctl), 0);
	assert_true(S_ISREG(st_ctl.st_mode));
	assert_int_equal(st_ctl.st_mode & 07777, 0600);
	assert_int_equal(st_ctl.st_uid, geteuid());
	assert_int_equal((uint64_t)st_ctl.st_size, f->dp->ctl_size);
	assert_int_equal(stat_seg(f->inst, "stats", &st_stats), 0);
	assert_true(S_ISREG(st_stats.st_mode));
	assert_int_equal(st_stats.st_mode & 07777, 0640);
	assert_int_equal(st_stats.st_uid, geteuid());
	assert_int_equal((uint64_t)st_stats.st_size, f->dp->stats_size);
	assert_int_equal(f->dp->creator, 1);
	assert_int_equal(f->dp->control, 0);
	assert_string_equal(f->dp->instance, f->inst);

	/* control header */
	assert_int_equal(h->magic, RTR_CTL_MAGIC);
	assert_int_equal(h->abi_version, RTR_ABI_VERSION);
	assert_int_equal(h->hdr_size, sizeof(struct rtr_ctl_hdr));
	assert_int_equal(h->size, f->dp->ctl_size);
	assert_int_not_equal(h->generation, 0);
	assert_int_equal(h->generation, f->dp->generation);
	assert_int_equal(h->dp_pid, (uint32_t)getpid());
	assert_int_equal(h->n_workers, T_WORKERS);
	assert_int_equal(h->udp_port, T_UDP_PORT);
	assert_int_equal(h->rx_hold, 1);
	assert_int_equal(h->ctl_pid, 0);
	assert_int_equal(h->ctl_session, 0);
	assert_int_equal(h->ctl_start, 0);
	assert_int_equal(h->off_cmd % 64, 0);
	assert_true(h->off_cmd >= sizeof(struct rtr_ctl_hdr));
	assert_true(h->off_cmd < h->off_reply);
	assert_true(h->off_reply < h->off_punt);
	assert_true(h->off_punt < h->off_notify);
	assert_true(h->off_notify < h->size);
	assert_ptr_equal(f->dp->cmd, (uint8_t *)h + h->off_cmd);
	assert_ptr_equal(f->dp->reply, (uint8_t *)h + h->off_reply);
	assert_ptr_equal(f->dp->punt, (uint8_t *)h + h->off_punt);
	assert_ptr_equal(f->dp->notify, (uint8_t *)h + h->off_notify);
	assert_int_equal(rte_ring_get_capacity(f->dp->cmd), RTR_CMD_RING_SIZE - 1);
	assert_int_equal(rte_ring_get_capacity(f->dp->reply), RTR_REPLY_RING_SIZE - 1);
	assert_int_equal(rte_ring_get_capacity(f->dp->punt), RTR_PUNT_RING_SIZE - 1);
	assert_int_equal(rte_ring_get_capacity(f->dp->notify), RTR_NOTIFY_RING_SIZE - 1);
	assert_int_equal(rte_ring_count(f->dp->cmd), 0);

	/* stats header: same generation */
	assert_int_equal(sh->magic, RTR_STATS_MAGIC);
	assert_int_equal(sh->abi_version, RTR_ABI_VERSION);
	assert_int_equal(sh->hdr_size, sizeof(struct rtr_stats_hdr));
	assert_int_equal(sh->size, f->dp->stats_size);
	assert_int_equal(sh->generation, h->generation);
	assert_int_equal(sh->dp_pid, (uint32_t)getpid());
	assert_int_equal(sh->n_workers, T_WORKERS);
	assert_int_equal(sh->n_ports, T_PORTS);
	assert_int_equal(sh->max_apps, T_APPS);
	assert_int_equal(sh->n_drop_reasons, RTR_DROP_MAX);
	assert_true(sh->off_apps + (uint64_t)T_WORKERS * T_APPS * sizeof(struct rtr_app_stats) <=
		    sh->size);
	assert_int_equal(sh->epoch, 0);
	assert_int_equal(sh->in_progress, 0);
	/* the stats copy of the heartbeat is set too, to the ctl one */
	assert_int_not_equal(h->heartbeat_ns, 0);
	assert_int_equal(rtr_stats_mainp(sh)->heartbeat_ns, h->heartbeat_ns);

	/* a second create for the same live instance, from this same process,
	 * is refused too (the live dp_pid is ours) and touches nothing */
	assert_int_equal(dp_create_named(f->inst, &s2), -EADDRINUSE);
	assert_null(s2);
	assert_int_equal(stat_seg(f->inst, "ctl", &st), 0);
	assert_int_equal(st.st_ino, st_ctl.st_ino);
	assert_int_equal(stat_seg(f->inst, "stats", &st), 0);
	assert_int_equal(st.st_ino, st_stats.st_ino);
	assert_int_equal(h->magic, RTR_CTL_MAGIC);
	assert_int_equal(h->generation, f->dp->generation);
	assert_int_equal(sh->generation, f->dp->generation);

	/* a second dataplane for the same live instance is refused */
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = dp_create_named(f->inst, &s2);

		_exit(rc == 0 ? 200 : exit_code(rc));
	}
	status = fx_wait(f, pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EADDRINUSE);

	/* ... and left the live one alone */
	assert_int_equal(stat_seg(f->inst, "ctl", &st), 0);
	assert_int_equal(st.st_ino, st_ctl.st_ino);
	assert_int_equal(stat_seg(f->inst, "stats", &st), 0);
	assert_int_equal(st.st_ino, st_stats.st_ino);
	gen = h->generation;
	assert_int_equal(gen, f->dp->generation);
	assert_int_equal(h->dp_pid, (uint32_t)getpid());
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &c), 0);
	assert_int_equal(c->generation, gen);
	assert_int_equal(c->ctl->generation, gen);
	assert_int_equal(c->stats->generation, gen);
	assert_int_equal(rtr_seg_alive(c), 1);
	fx_detach(f, c);

	/* destroy removes both files */
	rtr_seg_destroy(f->dp);
	f->dp = NULL;
	assert_int_equal(stat_seg(f->inst, "ctl", &st), -ENOENT);
	assert_int_equal(stat_seg(f->inst, "stats", &st), -ENOENT);
}

static void
test_create_invalid_names(void **state)
{
	static const char *const bad[] = {
		"../x", "", "a/b", "a.b", "a b", "x\n", "ctl.", "/rtrelay",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",	/* 40 */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",		/* 33 */
	};
	struct fx *f = *state;
	struct rtr_seg *s = NULL;
	char name[64], longest[RTR_INSTANCE_MAX + 1];
	struct stat st;
	unsigned int i;
	size_t n;

	assert_int_equal(strlen(bad[8]), 40);
	assert_int_equal(strlen(bad[9]), RTR_INSTANCE_MAX + 1);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(dp_create_named(bad[i], &s), -EINVAL);
		assert_null(s);
		assert_int_equal(rtr_seg_attach(bad[i], RTR_ATTACH_CONTROL, &s), -EINVAL);
		assert_int_equal(rtr_seg_attach(bad[i], RTR_ATTACH_STATS, &s), -EINVAL);
		assert_null(s);
		assert_int_equal(rtr_instance_valid(bad[i]), 0);
		assert_int_equal(rtr_seg_name(name, sizeof(name), bad[i], "ctl"), -EINVAL);
	}
	assert_int_equal(stat("/dev/shm/rtrelay.../x.ctl", &st), -1);

	/* exactly RTR_INSTANCE_MAX characters is fine */
	n = (size_t)snprintf(longest, sizeof(longest), "%s_", f->inst);
	memset(longest + n, 'z', RTR_INSTANCE_MAX - n);
	longest[RTR_INSTANCE_MAX] = '\0';
	snprintf(f->inst, sizeof(f->inst), "%s", longest);	/* teardown cleans it */
	assert_int_equal(rtr_instance_valid(f->inst), 1);
	assert_int_equal(rtr_seg_name(name, sizeof(name), f->inst, "stats"), 0);
	assert_int_equal(strlen(name), strlen("/rtrelay..stats") + RTR_INSTANCE_MAX);
	assert_int_equal(rtr_seg_name(name, 20, f->inst, "ctl"), -ENAMETOOLONG);
	fx_create(f);
	assert_string_equal(f->dp->instance, f->inst);
	assert_int_equal(stat_seg(f->inst, "ctl", &st), 0);
	assert_int_equal(stat_seg(f->inst, "stats", &st), 0);
}

/* ------------------------------------------------------------------ */
/* stale segments                                                      */

static void
test_stale_segment(void **state)
{
	struct fx *f = *state;
	struct stat st_ctl, st_stats, st;
	struct rtr_seg *c;
	uint64_t gen;
	pid_t dead;

	fx_create(f);
	assert_int_equal(stat_seg(f->inst, "ctl", &st_ctl), 0);
	assert_int_equal(stat_seg(f->inst, "stats", &st_stats), 0);
	gen = f->dp->generation;

	/* the dataplane "died": its pid is gone, its files are left behind */
	dead = dead_pid(f);
	f->dp->ctl->dp_pid = (uint32_t)dead;
	f->dp->stats->dp_pid = (uint32_t)dead;
	f->old = f->dp;
	f->dp = NULL;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -ESRCH);

	/* a new dataplane removes them and starts afresh */
	fx_create(f);
	assert_int_equal(stat_seg(f->inst, "ctl", &st), 0);
	assert_int_not_equal(st.st_ino, st_ctl.st_ino);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat_seg(f->inst, "stats", &st), 0);
	assert_int_not_equal(st.st_ino, st_stats.st_ino);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(f->dp->ctl->dp_pid, (uint32_t)getpid());
	assert_int_equal(f->dp->stats->dp_pid, (uint32_t)getpid());
	assert_int_not_equal(f->dp->generation, gen);
	assert_int_equal(f->dp->ctl->generation, f->dp->generation);
	assert_int_equal(f->dp->stats->generation, f->dp->generation);
	/* the old mapping is a different (unlinked) object, untouched */
	assert_int_equal(f->old->ctl->dp_pid, (uint32_t)dead);
	assert_int_equal(f->old->ctl->generation, gen);
	assert_int_equal(f->old->ctl->magic, RTR_CTL_MAGIC);
	forget_seg(f->old);
	f->old = NULL;

	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &c), 0);
	assert_int_equal(c->generation, f->dp->generation);
	assert_int_equal(f->dp->ctl->ctl_pid, (uint32_t)getpid());
}

/* Leftovers that never got a valid header (a crash inside create). */
static void
test_stale_half_created(void **state)
{
	struct fx *f = *state;
	char name[96];
	struct stat st;
	struct rtr_seg *c;
	int fd;

	snprintf(name, sizeof(name), "/rtrelay.%s.ctl", f->inst);
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	snprintf(name, sizeof(name), "/rtrelay.%s.stats", f->inst);
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -EPROTO);
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_STATS, &c), -EPERM);

	fx_create(f);
	assert_int_equal(stat_seg(f->inst, "ctl", &st), 0);
	assert_int_equal((uint64_t)st.st_size, f->dp->ctl_size);
	assert_int_equal(stat_seg(f->inst, "stats", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &c), 0);
}

/* ------------------------------------------------------------------ */
/* attach checks                                                       */

static void
test_attach_errors(void **state)
{
	struct fx *f = *state;
	struct rtr_ctl_hdr *h;
	struct rtr_seg *c = NULL;
	uint64_t saved;
	pid_t dead;

	/* no such instance */
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -ENOENT);
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_STATS, &c), -ENOENT);
	assert_null(c);

	fx_create(f);
	h = f->dp->ctl;

	/* control segment readable by others */
	assert_int_equal(chmod_seg(f->inst, "ctl", 0644), 0);
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -EPERM);
	assert_int_equal(chmod_seg(f->inst, "ctl", 0660), 0);
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -EPERM);
	assert_int_equal(chmod_seg(f->inst, "ctl", 0600), 0);
	/* stats segment with the wrong mode */
	assert_int_equal(chmod_seg(f->inst, "stats", 0644), 0);
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_STATS, &c), -EPERM);
	assert_int_equal(chmod_seg(f->inst, "stats", 0640), 0);
	/* ... or planted by another user (not root, not us, not rtrelay) */
	{
		char path[128];
		struct passwd *pw = getpwnam("rtrelay");
		uid_t stranger = 64999;

		if (pw != NULL && pw->pw_uid == stranger)
			stranger--;
		shm_path(path, sizeof(path), f->inst, "stats");
		if (geteuid() == 0) {
			assert_int_equal(chown(path, stranger, (gid_t)-1), 0);
			assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_STATS, &c), -EPERM);
			assert_int_equal(chown(path, 0, (gid_t)-1), 0);
			assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_STATS, &c), 0);
			rtr_seg_detach(c);
			c = NULL;
		}
	}

	/* corrupted magic, ABI, size */
	h->magic ^= 0xff;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -EPROTO);
	h->magic ^= 0xff;
	h->abi_version = RTR_ABI_VERSION + 1;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -EPROTO);
	h->abi_version = RTR_ABI_VERSION;
	h->size += 4096;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -EPROTO);
	h->size -= 4096;
	f->dp->stats->magic ^= 1;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_STATS, &c), -EPROTO);
	f->dp->stats->magic ^= 1;

	/* the dataplane that created it is gone */
	dead = dead_pid(f);
	h->dp_pid = (uint32_t)dead;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &c), -ESRCH);
	h->dp_pid = (uint32_t)getpid();

	/* a dataplane restart between the two segments: lock released */
	f->dp->stats->generation ^= 2;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &c),
			 -EAGAIN);
	f->dp->stats->generation ^= 2;
	assert_null(c);

	/* none of the failures took the lock */
	assert_int_equal(h->ctl_pid, 0);
	assert_int_equal(h->ctl_session, 0);
	assert_int_equal(h->ctl_start, 0);

	/* all restored: attach works; liveness follows the heartbeat */
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &c), 0);
	assert_int_equal(c->control, 1);
	assert_int_equal(c->creator, 0);
	assert_int_equal(rtr_seg_alive(c), 1);
	saved = h->heartbeat_ns;
	h->heartbeat_ns = now_ns() - 3000000000ULL;
	assert_int_equal(rtr_seg_alive(c), 0);
	h->heartbeat_ns = saved;
	assert_int_equal(rtr_seg_alive(c), 1);
	h->dp_pid = (uint32_t)dead;
	assert_int_equal(rtr_seg_alive(c), 0);
	h->dp_pid = (uint32_t)getpid();
}

/* ------------------------------------------------------------------ */
/* controller lock                                                     */

static void
test_ctl_lock_second_controller(void **state)
{
	struct fx *f = *state;
	struct rtr_ctl_hdr *h;
	struct rtr_seg *a, *b, *rd;
	struct rtr_msg m;
	int up[2], down[2], rc, status;
	uint64_t my_start;
	uint32_t session, ctx;
	pid_t pid;

	fx_create(f);
	h = f->dp->ctl;
	my_start = start_time_of(getpid());
	assert_int_not_equal(my_start, 0);
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &a), 0);
	assert_int_equal(a->control, 1);
	assert_int_not_equal(a->session, 0);
	assert_int_equal(a->next_seq, 1);
	assert_int_equal(a->generation, f->dp->generation);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, a->session);
	/* the holder's start time is written with pid and session */
	assert_int_equal(h->ctl_start, my_start);
	session = a->session;

	/* one controller handle per process: a second one from this process
	 * is refused, with or without stats, and the lock is left as it was */
	b = NULL;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &b), -EBUSY);
	assert_null(b);
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &b),
			 -EBUSY);
	assert_null(b);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, session);
	assert_int_equal(h->ctl_start, my_start);
	assert_int_equal(a->control, 1);
	assert_int_equal(a->session, session);
	/* the first handle still works; a stats-only handle is not a controller */
	assert_int_equal(rtr_seg_send(a, RTR_MSG_PING, NULL, 0, &ctx), 0);
	assert_int_equal(ctx, a->next_context);
	assert_int_equal(a->next_seq, 2);
	assert_int_equal(rtr_seg_cmd_take(f->dp, &m, 1), 1);
	assert_int_equal(m.context, ctx);
	assert_int_equal(m.session, session);
	assert_int_equal(m.seq, 1);
	assert_int_equal(fx_attach(f, RTR_ATTACH_STATS, &rd), 0);
	assert_int_equal(rd->control, 0);
	assert_int_equal(h->ctl_session, session);
	fx_detach(f, rd);

	fx_pipe(f, up);
	fx_pipe(f, down);
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rtr_seg *s = NULL;

		rc = rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &s);
		child_write(up[1], &rc, sizeof(rc));
		if (rc == 0)
			_exit(201);
		child_wait_go(down[0]);
		rc = rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &s);
		child_write(up[1], &rc, sizeof(rc));
		if (rc < 0)
			_exit(exit_code(rc));
		child_wait_go(down[0]);
		rtr_seg_detach(s);
		_exit(0);
	}
	fx_close(f, up[1]);
	fx_close(f, down[0]);

	/* the second controller is refused while we hold the lock */
	assert_int_equal(read_timeout(up[0], &rc, sizeof(rc)), 0);
	assert_int_equal(rc, -EBUSY);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, session);

	/* detach releases it */
	fx_detach(f, a);
	assert_int_equal(h->ctl_pid, 0);
	assert_int_equal(h->ctl_session, 0);
	assert_int_equal(h->ctl_start, 0);

	parent_go(down[1]);
	assert_int_equal(read_timeout(up[0], &rc, sizeof(rc)), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(h->ctl_pid, (uint32_t)pid);
	assert_int_not_equal(h->ctl_session, 0);
	assert_int_not_equal(h->ctl_session, session);
	assert_int_not_equal(h->ctl_start, 0);
	assert_int_equal(h->ctl_start, start_time_of(pid));
	/* now we are the one refused */
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &a), -EBUSY);
	assert_int_equal(h->ctl_pid, (uint32_t)pid);

	parent_go(down[1]);
	status = fx_wait(f, pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(h->ctl_pid, 0);
	assert_int_equal(h->ctl_session, 0);
	assert_int_equal(h->ctl_start, 0);

	/* the one-handle rule does not outlive the handle: we may attach again */
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &a), 0);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, a->session);
	assert_int_equal(h->ctl_start, my_start);
	fx_detach(f, a);
	assert_int_equal(h->ctl_pid, 0);
	assert_int_equal(h->ctl_session, 0);
	assert_int_equal(h->ctl_start, 0);
}

static void
test_ctl_lock_sigkill(void **state)
{
	struct fx *f = *state;
	struct rtr_ctl_hdr *h;
	struct rtr_seg *a;
	int up[2], rc, status;
	uint32_t rep[2];
	uint64_t kid_start;
	pid_t pid;

	fx_create(f);
	h = f->dp->ctl;
	fx_pipe(f, up);
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rtr_seg *s = NULL;

		rc = rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &s);
		rep[0] = (uint32_t)rc;
		rep[1] = rc == 0 ? s->session : 0;
		child_write(up[1], rep, sizeof(rep));
		for (;;)
			pause();
	}
	fx_close(f, up[1]);
	assert_int_equal(read_timeout(up[0], rep, sizeof(rep)), 0);
	assert_int_equal((int)rep[0], 0);
	assert_int_equal(h->ctl_pid, (uint32_t)pid);
	assert_int_equal(h->ctl_session, rep[1]);
	kid_start = start_time_of(pid);
	assert_int_not_equal(kid_start, 0);
	assert_int_equal(h->ctl_start, kid_start);

	/* killed while holding the lock */
	assert_int_equal(kill(pid, SIGKILL), 0);
	status = fx_wait(f, pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(h->ctl_pid, (uint32_t)pid);	/* left behind */
	assert_int_equal(h->ctl_session, rep[1]);
	assert_int_equal(h->ctl_start, kid_start);

	/* does not wedge: the next controller takes over */
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &a), 0);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, a->session);
	assert_int_equal(h->ctl_start, start_time_of(getpid()));
	assert_int_not_equal(a->session, rep[1]);

	/* and holds it against others */
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rtr_seg *s = NULL;

		rc = rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &s);
		_exit(rc == 0 ? 201 : exit_code(rc));
	}
	status = fx_wait(f, pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EBUSY);
}

/*
 * A live pid in the lock counts only with that process's start time; any
 * other start time (0 included: a live holder never has 0) means the pid
 * was reused, and the lock is taken over. The planted values are plain
 * stores to the three fields of the shared mapping.
 */
static void
test_ctl_lock_pid_reuse(void **state)
{
	struct fx *f = *state;
	struct rtr_ctl_hdr *h;
	struct rtr_seg *a = NULL;
	uint64_t kid_start, my_start;
	pid_t pid;

	fx_create(f);
	h = f->dp->ctl;
	my_start = start_time_of(getpid());
	assert_int_not_equal(my_start, 0);
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	kid_start = start_time_of(pid);
	assert_int_not_equal(kid_start, 0);

	/* the live holder's own start time: it keeps the lock */
	h->ctl_pid = (uint32_t)pid;
	h->ctl_session = 0x1234;
	h->ctl_start = kid_start;
	assert_int_equal(rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &a), -EBUSY);
	assert_null(a);
	assert_int_equal(h->ctl_pid, (uint32_t)pid);
	assert_int_equal(h->ctl_session, 0x1234);
	assert_int_equal(h->ctl_start, kid_start);

	/* start 0 never matches a live process: taken over */
	h->ctl_start = 0;
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &a), 0);
	assert_int_equal(a->control, 1);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, a->session);
	assert_int_not_equal(a->session, 0x1234);
	assert_int_equal(h->ctl_start, my_start);
	fx_detach(f, a);
	assert_int_equal(h->ctl_pid, 0);
	assert_int_equal(h->ctl_session, 0);
	assert_int_equal(h->ctl_start, 0);

	/* not that process's start time: reused pid, taken over */
	h->ctl_pid = (uint32_t)pid;
	h->ctl_session = 0x5678;
	h->ctl_start = kid_start + 1;
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &a), 0);
	assert_int_equal(h->ctl_pid, (uint32_t)getpid());
	assert_int_equal(h->ctl_session, a->session);
	assert_int_not_equal(a->session, 0x5678);
	assert_int_equal(h->ctl_start, my_start);
	assert_int_not_equal(h->ctl_start, kid_start + 1);
}

/* ------------------------------------------------------------------ */
/* commands                                                            */

static void
test_killed_controller_mid_session(void **state)
{
	struct fx *f = *state;
	struct rtr_ctl_hdr *h;
	uint8_t body[PAT_LEN + TAG_LEN];
	struct rtr_reply out, r;
	struct rtr_seg *c;
	int up[2], status;
	uint32_t rep[5], ctx0;
	pid_t pid;

	fx_create(f);
	h = f->dp->ctl;
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 0);

	fx_pipe(f, up);
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rtr_seg *s = NULL;
		char tag[TAG_LEN + 1];
		unsigned int i;
		int rc;

		memset(rep, 0, sizeof(rep));
		rc = rtr_seg_attach(f->inst, RTR_ATTACH_CONTROL, &s);
		rep[0] = (uint32_t)rc;
		if (rc == 0) {
			rep[1] = s->session;
			for (i = 0; i < 3 && rc == 0; i++) {
				make_tag(tag, "OLD-", i + 1);
				make_body(body, tag);
				rc = rtr_seg_send(s, RTR_MSG_APP_SET, body, sizeof(body),
						  &rep[2 + i]);
			}
			rep[0] = (uint32_t)rc;
		}
		child_write(up[1], rep, sizeof(rep));
		for (;;)
			pause();
	}
	fx_close(f, up[1]);
	assert_int_equal(read_timeout(up[0], rep, sizeof(rep)), 0);
	assert_int_equal((int)rep[0], 0);
	/* contexts start anywhere, then count up by one */
	assert_int_equal(rep[3], (uint32_t)(rep[2] + 1));
	assert_int_equal(rep[4], (uint32_t)(rep[2] + 2));
	assert_int_equal(h->ctl_session, rep[1]);
	assert_int_equal(rte_ring_count(f->dp->cmd), 3);
	/* the scan does see a body in a slot */
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 1);

	/*
	 * A reply the old controller never collected (to its first command):
	 * the next controller must drain it at attach, never receive it.
	 */
	memset(&out, 0, sizeof(out));
	out.context = rep[2];
	out.status = -EIO;
	out.msg_id = RTR_MSG_PING;
	out.version = RTR_MSG_VERSION;
	out.seq = 1;
	memcpy(out.body, "OLDREPLY", TAG_LEN);
	assert_int_equal(rte_ring_sp_enqueue_elem(f->dp->reply, &out, sizeof(out)), 0);

	/* killed before the dataplane consumed anything */
	assert_int_equal(kill(pid, SIGKILL), 0);
	status = fx_wait(f, pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(rte_ring_count(f->dp->cmd), 3);

	/* a new controller, a new session, sequence from 1 again */
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &c), 0);
	assert_int_not_equal(c->session, rep[1]);
	assert_int_equal(h->ctl_session, c->session);
	assert_int_equal(c->next_seq, 1);
	assert_int_equal(rte_ring_count(f->dp->reply), 0);
	assert_int_equal(c->n_stash, 0);
	ctx0 = c->next_context;

	fx_sim_start(f, 1);
	make_body(body, "NEW-1");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out, CALL_MS), 0);
	fx_sim_join(f);

	/* the old session's commands were dropped, not answered */
	assert_int_equal(out.context, (uint32_t)(ctx0 + 1));
	assert_int_equal(out.context, c->next_context);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.msg_id, RTR_MSG_PING);
	assert_int_equal(out.version, RTR_MSG_VERSION);
	assert_int_equal(out.seq, 1);
	assert_memory_equal(out.body, "NEW-1\0\0\0", TAG_LEN);
	assert_int_equal(f->sim.stale, 3);
	assert_int_equal(f->sim.answered, 1);
	assert_int_equal(f->sim.invalid, 0);
	assert_int_equal(f->sim.lost, 0);
	assert_int_equal(f->sim.cur_session, c->session);
	assert_int_equal(f->sim.expect_seq, 2);
	assert_int_equal(c->next_seq, 2);
	assert_int_equal(c->n_stash, 0);
	assert_int_equal(rte_ring_count(f->dp->cmd), 0);
	assert_int_equal(rte_ring_count(f->dp->reply), 0);
	/* and the old controller's reply is not delivered later either */
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), -ETIMEDOUT);

	/* every consumed slot was wiped: no body left in the cmd ring */
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 0);
}

/* rtr_seg_cmd_take wipes its slots, also across the end of the ring. */
static void
test_cmd_take_wipes(void **state)
{
	struct fx *f = *state;
	struct rtr_ctl_hdr *h;
	uint8_t body[PAT_LEN + TAG_LEN], pat[PAT_LEN];
	char tag[TAG_LEN + 1];
	struct rtr_msg *msgs;
	struct rtr_seg *c;
	unsigned int i, j;
	uint32_t ctx0;

	fx_create(f);
	h = f->dp->ctl;
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &c), 0);
	ctx0 = c->next_context;		/* random per attach */
	msgs = calloc(64, sizeof(*msgs));
	assert_non_null(msgs);
	fill_pattern(pat);

	/* one command */
	make_body(body, "ONE");
	assert_int_equal(rtr_seg_send(c, RTR_MSG_MEMBER_ADD, body, sizeof(body), NULL), 0);
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 1);
	assert_int_equal(rtr_seg_cmd_take(f->dp, msgs, 64), 1);
	assert_int_equal(msgs[0].msg_id, RTR_MSG_MEMBER_ADD);
	assert_int_equal(msgs[0].version, RTR_MSG_VERSION);
	assert_int_equal(msgs[0].context, (uint32_t)(ctx0 + 1));
	assert_int_equal(msgs[0].context, c->next_context);
	assert_int_equal(msgs[0].session, c->session);
	assert_int_equal(msgs[0].seq, 1);
	assert_memory_equal(msgs[0].body, body, sizeof(body));
	assert_int_equal(msgs[0].body[sizeof(body)], 0);
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 0);
	assert_int_equal(rtr_seg_cmd_take(f->dp, msgs, 64), 0);

	/* move the ring indexes close to the end: 1 + 999 = 1000 */
	for (i = 0; i < 999; i += 37) {
		unsigned int k = 999 - i < 37 ? 999 - i : 37;

		for (j = 0; j < k; j++)
			assert_int_equal(rtr_seg_send(c, RTR_MSG_PING, NULL, 0, NULL), 0);
		assert_int_equal(rtr_seg_cmd_take(f->dp, msgs, 64), k);
	}
	assert_int_equal(f->dp->cmd->cons.tail % RTR_CMD_RING_SIZE, 1000);

	/* 50 commands over the wrap (slots 1000..1023 and 0..25), one take */
	for (i = 0; i < 50; i++) {
		make_tag(tag, "W", i);
		make_body(body, tag);
		assert_int_equal(rtr_seg_send(c, RTR_MSG_MEMBER_ADD, body, sizeof(body), NULL),
				 0);
	}
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 1);
	assert_int_equal(rtr_seg_cmd_take(f->dp, msgs, 64), 50);
	for (i = 0; i < 50; i++) {
		make_tag(tag, "W", i);
		assert_int_equal(msgs[i].seq, 1001 + i);
		assert_int_equal(msgs[i].context, (uint32_t)(ctx0 + 1001 + i));
		assert_memory_equal(msgs[i].body, pat, PAT_LEN);
		assert_memory_equal(msgs[i].body + PAT_LEN, tag, TAG_LEN);
	}
	assert_int_equal(region_has_pattern(h, h->off_cmd, h->off_reply), 0);
	assert_int_equal(rte_ring_count(f->dp->cmd), 0);
	memset(msgs, 0, 64 * sizeof(*msgs));
	free(msgs);
}

static void
test_pipelining(void **state)
{
	struct fx *f = *state;
	uint8_t body[PAT_LEN + TAG_LEN], big[RTR_MSG_BODY_MAX + 1];
	char tag[TAG_LEN + 1];
	uint32_t ctx[100], next, ctx0, first[3];
	struct rtr_reply r;
	struct rtr_seg *c, *rd;
	unsigned int i;

	fx_create(f);

	/* contexts start at a random value per attach (three equal draws
	 * of 32 random bits: 2^-64) */
	for (i = 0; i < 3; i++) {
		assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &c), 0);
		first[i] = c->next_context;
		fx_detach(f, c);
	}
	assert_false(first[0] == first[1] && first[1] == first[2]);

	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &c), 0);
	assert_int_equal(fx_attach(f, RTR_ATTACH_STATS, &rd), 0);
	ctx0 = c->next_context;

	/* only the controller sends; sizes are checked */
	assert_int_equal(rtr_seg_send(rd, RTR_MSG_PING, NULL, 0, NULL), -EPERM);
	assert_int_equal(rtr_seg_recv_reply(rd, &r, 0), -EPERM);
	memset(big, 0, sizeof(big));
	assert_int_equal(rtr_seg_send(c, RTR_MSG_PING, big, sizeof(big), NULL), -EMSGSIZE);
	assert_int_equal(c->next_seq, 1);
	assert_int_equal(c->next_context, ctx0);	/* nothing consumed */

	for (i = 0; i < 100; i++) {
		uint16_t id = i % 10 == 9 ? RTR_MSG_APP_DEL : RTR_MSG_PING;

		make_tag(tag, "P", i);
		make_body(body, tag);
		assert_int_equal(rtr_seg_send(c, id, body, sizeof(body), &ctx[i]), 0);
		assert_int_equal(ctx[i], (uint32_t)(ctx0 + i + 1));
		assert_int_equal(ctx[i], c->next_context);
	}
	assert_int_equal(c->next_seq, 101);
	assert_int_equal(rte_ring_count(f->dp->cmd), 100);

	sim_run(&f->sim, 100);
	assert_int_equal(f->sim.answered, 100);
	assert_int_equal(f->sim.stale, 0);
	assert_int_equal(f->sim.lost, 0);
	assert_int_equal(rte_ring_count(f->dp->reply), 100);

	for (i = 0; i < 100; i++) {
		uint16_t id = i % 10 == 9 ? RTR_MSG_APP_DEL : RTR_MSG_PING;

		make_tag(tag, "P", i);
		assert_int_equal(rtr_seg_recv_reply(c, &r, CALL_MS), 0);
		assert_int_equal(r.context, ctx[i]);
		assert_int_equal(r.seq, i + 1);
		assert_int_equal(r.msg_id, id);
		assert_int_equal(r.status, id == RTR_MSG_APP_DEL ? -ENOENT : 0);
		assert_memory_equal(r.body, tag, TAG_LEN);
	}
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), -ETIMEDOUT);
	assert_int_equal(rtr_seg_recv_reply(c, &r, 20), -ETIMEDOUT);

	/* a full command ring says EAGAIN and consumes neither seq nor context */
	for (i = 0; i < RTR_CMD_RING_SIZE - 1; i++)
		assert_int_equal(rtr_seg_send(c, RTR_MSG_PING, NULL, 0, NULL), 0);
	next = c->next_context;
	assert_int_equal(rtr_seg_send(c, RTR_MSG_PING, NULL, 0, NULL), -EAGAIN);
	assert_int_equal(c->next_context, next);
	assert_int_equal(c->next_seq, 101 + RTR_CMD_RING_SIZE - 1);
	sim_run(&f->sim, 100 + 1023);
	assert_int_equal(f->sim.answered, 100 + 1023);
	assert_int_equal(f->sim.stale, 0);
	assert_int_equal(f->sim.lost, 0);
	for (i = 0; i < 1023; i++) {
		assert_int_equal(rtr_seg_recv_reply(c, &r, CALL_MS), 0);
		assert_int_equal(r.seq, 101 + i);
	}
	assert_int_equal(rtr_seg_send(c, RTR_MSG_PING, NULL, 0, &next), 0);
	assert_int_equal(next, (uint32_t)(ctx0 + 100 + 1023 + 1));
	assert_int_equal(next, c->next_context);
}

static void
test_call_out_of_order(void **state)
{
	struct fx *f = *state;
	uint8_t body[PAT_LEN + TAG_LEN];
	char tag[TAG_LEN + 1];
	struct rtr_reply out, r;
	struct rtr_msg *msgs;
	struct rtr_seg *c;
	uint32_t ctx_a, ctx0, ctx;
	unsigned int i;
	uint64_t t0;

	fx_create(f);
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &c), 0);
	ctx0 = c->next_context;		/* random per attach */

	/* A is in flight when B is called: A's reply comes first */
	make_body(body, "A");
	assert_int_equal(rtr_seg_send(c, RTR_MSG_PING, body, sizeof(body), &ctx_a), 0);
	assert_int_equal(ctx_a, (uint32_t)(ctx0 + 1));
	assert_int_equal(ctx_a, c->next_context);
	fx_sim_start(f, 2);
	make_body(body, "B");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_APP_DEL, body, sizeof(body), &out, CALL_MS),
			 -ENOENT);
	fx_sim_join(f);
	assert_int_equal(f->sim.answered, 2);
	assert_int_equal(f->sim.stale, 0);
	assert_int_equal(out.context, (uint32_t)(ctx_a + 1));
	assert_int_equal(out.context, c->next_context);
	assert_int_equal(out.status, -ENOENT);
	assert_int_equal(out.msg_id, RTR_MSG_APP_DEL);
	assert_int_equal(out.seq, 2);
	assert_memory_equal(out.body, "B\0\0\0\0\0\0\0", TAG_LEN);

	/* A waits in the stash */
	assert_int_equal(c->n_stash, 1);
	assert_int_equal(c->stash[0].context, ctx_a);
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), 0);
	assert_int_equal(r.context, ctx_a);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.msg_id, RTR_MSG_PING);
	assert_int_equal(r.seq, 1);
	assert_memory_equal(r.body, "A\0\0\0\0\0\0\0", TAG_LEN);
	assert_int_equal(c->n_stash, 0);
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), -ETIMEDOUT);

	/* C times out (nobody answers); its late reply is stashed by D's call */
	make_body(body, "C");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out, 30),
			 -ETIMEDOUT);
	assert_int_equal(rte_ring_count(f->dp->cmd), 1);
	fx_sim_start(f, 4);
	make_body(body, "D");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_SYNC, body, sizeof(body), &out, CALL_MS), 0);
	fx_sim_join(f);
	assert_int_equal(out.context, (uint32_t)(ctx_a + 3));
	assert_int_equal(out.context, c->next_context);
	assert_int_equal(out.seq, 4);
	assert_int_equal(out.msg_id, RTR_MSG_SYNC);
	assert_memory_equal(out.body, "D\0\0\0\0\0\0\0", TAG_LEN);
	assert_int_equal(c->n_stash, 1);
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), 0);
	assert_int_equal(r.context, (uint32_t)(ctx_a + 2));
	assert_int_equal(r.seq, 3);
	assert_memory_equal(r.body, "C\0\0\0\0\0\0\0", TAG_LEN);
	assert_int_equal(c->n_stash, 0);
	assert_int_equal(f->sim.stale, 0);

	/* contexts wrap through 0 (a random start can be anywhere) */
	c->next_context = UINT32_MAX - 1;
	fx_sim_start(f, 7);
	for (i = 0; i < 3; i++) {
		make_tag(tag, "WR", i);
		make_body(body, tag);
		assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out,
					      CALL_MS), 0);
		assert_int_equal(out.context, (uint32_t)(UINT32_MAX + i));
		assert_int_equal(out.context, c->next_context);
		assert_int_equal(out.seq, 5 + i);
		assert_int_equal(out.msg_id, RTR_MSG_PING);
		assert_memory_equal(out.body, tag, TAG_LEN);
		assert_int_equal(c->n_stash, 0);
	}
	fx_sim_join(f);
	assert_int_equal(f->sim.answered, 7);
	assert_int_equal(f->sim.stale, 0);
	assert_int_equal(c->next_context, 1);
	assert_int_equal(c->next_seq, 8);

	/*
	 * A reply already in the ring (a dataplane that answered before the
	 * caller looked; planted here) is returned even with timeout 0 ...
	 */
	ctx = c->next_context + 1;
	memset(&r, 0, sizeof(r));
	r.context = ctx;
	r.status = -EEXIST;
	r.msg_id = RTR_MSG_PING;
	r.version = RTR_MSG_VERSION;
	r.seq = 8;
	memcpy(r.body, "FAST-0\0\0", TAG_LEN);
	assert_int_equal(rte_ring_sp_enqueue_elem(f->dp->reply, &r, sizeof(r)), 0);
	make_body(body, "E");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out, 0), -EEXIST);
	assert_int_equal(out.context, ctx);
	assert_int_equal(out.status, -EEXIST);
	assert_int_equal(out.seq, 8);
	assert_memory_equal(out.body, "FAST-0\0\0", TAG_LEN);
	assert_int_equal(c->next_context, ctx);
	assert_int_equal(c->n_stash, 0);
	assert_int_equal(rte_ring_count(f->dp->reply), 0);

	/* ... and with a negative timeout, which acts as 0 */
	r.context = ctx + 1;
	r.status = 0;
	r.seq = 9;
	memcpy(r.body, "FAST-1\0\0", TAG_LEN);
	assert_int_equal(rte_ring_sp_enqueue_elem(f->dp->reply, &r, sizeof(r)), 0);
	make_body(body, "F");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out, -1), 0);
	assert_int_equal(out.context, (uint32_t)(ctx + 1));
	assert_int_equal(out.seq, 9);
	assert_memory_equal(out.body, "FAST-1\0\0", TAG_LEN);
	assert_int_equal(c->n_stash, 0);

	/* no reply for the call: timeout 0 and a negative timeout give up at
	 * once; another context's reply found on the way is still stashed */
	r.context = ctx + 100;
	r.seq = 100;
	memcpy(r.body, "OTHER\0\0\0", TAG_LEN);
	assert_int_equal(rte_ring_sp_enqueue_elem(f->dp->reply, &r, sizeof(r)), 0);
	t0 = now_ns();
	make_body(body, "G");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out, 0),
			 -ETIMEDOUT);
	assert_int_equal(c->n_stash, 1);
	assert_int_equal(c->stash[0].context, (uint32_t)(ctx + 100));
	assert_int_equal(rte_ring_count(f->dp->reply), 0);
	make_body(body, "H");
	assert_int_equal(rtr_seg_call(c, RTR_MSG_PING, body, sizeof(body), &out, -1000),
			 -ETIMEDOUT);
	assert_true(now_ns() - t0 < 1000000000ULL);
	assert_int_equal(c->next_context, (uint32_t)(ctx + 3));
	assert_int_equal(c->next_seq, 12);
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), 0);
	assert_int_equal(r.context, (uint32_t)(ctx + 100));
	assert_memory_equal(r.body, "OTHER\0\0\0", TAG_LEN);
	assert_int_equal(c->n_stash, 0);
	assert_int_equal(rtr_seg_recv_reply(c, &r, 0), -ETIMEDOUT);

	/* all four commands were sent, in order, with those contexts */
	msgs = calloc(8, sizeof(*msgs));
	assert_non_null(msgs);
	assert_int_equal(rtr_seg_cmd_take(f->dp, msgs, 8), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(msgs[i].context, (uint32_t)(ctx + i));
		assert_int_equal(msgs[i].seq, 8 + i);
		assert_int_equal(msgs[i].session, c->session);
		assert_int_equal(msgs[i].body[PAT_LEN], "EFGH"[i]);
	}
	memset(msgs, 0, 8 * sizeof(*msgs));
	free(msgs);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

static void
test_stats_snapshot(void **state)
{
	struct fx *f = *state;
	struct rtr_worker_stats sum, *w0, *w1;
	struct rtr_main_stats ms, *mp;
	struct rtr_port_stats ps, *pp;
	struct rtr_app_stats as;
	const uint64_t *s64;
	uint64_t *p0, *p1;
	struct rtr_seg *rd;
	struct rtr_notify nt;
	unsigned int i, n = sizeof(struct rtr_worker_stats) / sizeof(uint64_t);
	int status;
	pid_t pid;

	fx_create(f);
	assert_int_equal(fx_attach(f, RTR_ATTACH_STATS, &rd), 0);
	assert_null(rd->ctl);
	assert_int_equal(rd->control, 0);
	assert_int_equal(rd->generation, f->dp->generation);
	assert_int_equal(rd->stats_size, f->dp->stats_size);
	assert_ptr_not_equal(rd->stats, f->dp->stats);

	/* create set the stats heartbeat: a stats-only reader sees a live
	 * dataplane at once, before any main-loop update */
	assert_int_not_equal(rtr_stats_mainp(rd->stats)->heartbeat_ns, 0);
	assert_int_equal(rtr_stats_mainp(rd->stats)->heartbeat_ns, f->dp->ctl->heartbeat_ns);
	assert_int_equal(rtr_seg_alive(rd), 1);

	/* two workers' blocks, every counter distinct */
	w0 = rtr_stats_worker(f->dp->stats, 0);
	w1 = rtr_stats_worker(f->dp->stats, 1);
	p0 = (uint64_t *)w0;
	p1 = (uint64_t *)w1;
	for (i = 0; i < n; i++) {
		p0[i] = i + 1;
		p1[i] = (uint64_t)(i + 1) * 1000;
	}
	rtr_seg_stats_workers(rd, &sum);
	s64 = (const uint64_t *)&sum;
	for (i = 0; i < n; i++) {
		/* drops_total is not a worker counter: readers sum drops[] */
		if (&s64[i] == &sum.drops_total)
			continue;
		assert_int_equal(s64[i], (uint64_t)(i + 1) * 1001);
	}
	assert_int_equal(sum.rx_pkts, 1001);
	{
		uint64_t want = 0;
		unsigned int k;

		for (k = 0; k < RTR_DROP_SLOTS; k++)
			want += sum.drops[k];
		assert_int_equal(sum.drops_total, want);
		assert_true(want > 0);
	}
	assert_int_equal(sum.drops[RTR_DROP_TX_FULL],
			 (offsetof(struct rtr_worker_stats, drops) / 8 + RTR_DROP_TX_FULL + 1) * 1001ULL);

	/* drop names from the segment = the library's list */
	for (i = 0; i < RTR_DROP_MAX; i++)
		assert_string_equal(rtr_seg_drop_name(rd, i), rtr_drop_name(i));
	assert_string_equal(rtr_seg_drop_name(rd, RTR_DROP_MAX), "unknown");
	assert_string_equal(rtr_seg_drop_name(rd, RTR_DROP_SLOTS), "unknown");
	assert_string_equal(rtr_seg_drop_name(rd, 0), "eth_runt");
	assert_string_equal(rtr_seg_drop_name(rd, RTR_DROP_MAX - 1), "enc_mode_mismatch");

	/* main block, ports, apps */
	mp = rtr_stats_mainp(f->dp->stats);
	mp->cmds_ok = 7;
	mp->cmds_stale = 3;
	mp->members = 42;
	mp->heartbeat_ns = now_ns();
	rtr_seg_stats_main(rd, &ms);
	assert_memory_equal(&ms, mp, sizeof(ms));
	assert_int_equal(ms.cmds_ok, 7);
	assert_int_equal(rtr_seg_alive(rd), 1);
	mp->heartbeat_ns = now_ns() - 3000000000ULL;
	assert_int_equal(rtr_seg_alive(rd), 0);

	pp = rtr_stats_port(f->dp->stats, 0);
	snprintf(pp->name, sizeof(pp->name), "net_tap0");
	pp->ipackets = 5;
	pp->link_up = 1;
	assert_int_equal(rtr_seg_stats_port(rd, 0, &ps), 0);
	assert_memory_equal(&ps, pp, sizeof(ps));
	assert_int_equal(rtr_seg_stats_port(rd, T_PORTS, &ps), -ENOENT);

	rtr_stats_app(f->dp->stats, 0, 3)->in_pkts = 10;
	rtr_stats_app(f->dp->stats, 1, 3)->in_pkts = 20;
	rtr_stats_app(f->dp->stats, 1, 3)->drops = 4;
	rtr_stats_app(f->dp->stats, 0, 2)->in_pkts = 99;
	assert_int_equal(rtr_seg_stats_app(rd, 3, &as), 0);
	assert_int_equal(as.in_pkts, 30);
	assert_int_equal(as.drops, 4);
	assert_int_equal(as.out_pkts, 0);
	assert_int_equal(rtr_seg_stats_app(rd, T_APPS, &as), -ENOENT);

	/* a reader has no controller rights */
	assert_int_equal(rtr_seg_notify_read(rd, &nt, 1), -EPERM);

	/* the reader's mapping is read-only: a write faults */
	pid = fx_fork(f);
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		signal(SIGSEGV, SIG_DFL);	/* not a sanitizer's handler */
		signal(SIGBUS, SIG_DFL);
		*(volatile uint64_t *)&rtr_stats_worker(rd->stats, 0)->rx_pkts = 12345;
		_exit(0);
	}
	status = fx_wait(f, pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_int_equal(w0->rx_pkts, 1);
}

/* ------------------------------------------------------------------ */
/* punt and notify rings                                               */

static void
make_punt(struct rtr_punt *p, unsigned int i)
{
	memset(p, 0, sizeof(*p));
	p->arrival_ns = 1700000000000000000ULL + i;
	p->port_id = 1;
	p->vlan = 100;
	p->len = 300;
	p->family = 4;
	memcpy(p->src_mac, "\x02\x11\x22\x33\x44\x55", 6);
	p->src_port = (uint16_t)(40000 + i);
	p->dst_port = T_UDP_PORT;
	memcpy(p->src_ip, "\xc6\x33\x64\x07", 4);
	memcpy(p->dst_ip, "\xc0\x00\x02\x0a", 4);
	fill_pattern(p->frame + 40);
	p->frame[0] = 0x52;
	p->frame[1] = 0x54;
	p->frame[299] = (uint8_t)i;
}

static void
test_punt_ring(void **state)
{
	struct fx *f = *state;
	struct rtr_punt *p, *out;
	struct rtr_ctl_hdr *h;
	struct rtr_notify nt, nout[4];
	struct rtr_seg *c;
	unsigned int i, k;

	fx_create(f);
	h = f->dp->ctl;
	assert_int_equal(fx_attach(f, RTR_ATTACH_CONTROL, &c), 0);
	p = calloc(1, sizeof(*p));
	out = calloc(16, sizeof(*out));
	assert_non_null(p);
	assert_non_null(out);

	/* the dataplane's workers are the (multi-)producers */
	make_punt(p, 7);
	assert_int_equal(rte_ring_mp_enqueue_elem(f->dp->punt, p, sizeof(*p)), 0);
	assert_int_equal(region_has_pattern(h, h->off_punt, h->off_notify), 1);
	assert_int_equal(rtr_seg_punt_read(c, out, 16), 1);
	assert_memory_equal(&out[0], p, sizeof(*p));
	assert_int_equal(region_has_pattern(h, h->off_punt, h->off_notify), 0);
	assert_int_equal(rtr_seg_punt_read(c, out, 16), 0);
	assert_int_equal(rte_ring_count(f->dp->punt), 0);

	/* over the wrap: indexes to 1020, then 8 in slots 1020..1023, 0..3 */
	make_punt(p, 0);
	memset(p->frame + 40, 0, PAT_LEN);
	for (i = 1; i < 1020; i += 16) {
		unsigned int n = 1020 - i < 16 ? 1020 - i : 16;

		for (k = 0; k < n; k++)
			assert_int_equal(rte_ring_mp_enqueue_elem(f->dp->punt, p, sizeof(*p)), 0);
		assert_int_equal(rtr_seg_punt_read(c, out, 16), (int)n);
	}
	assert_int_equal(f->dp->punt->cons.tail % RTR_PUNT_RING_SIZE, 1020);
	for (i = 0; i < 8; i++) {
		make_punt(p, i);
		assert_int_equal(rte_ring_mp_enqueue_elem(f->dp->punt, p, sizeof(*p)), 0);
	}
	assert_int_equal(region_has_pattern(h, h->off_punt, h->off_notify), 1);
	assert_int_equal(rtr_seg_punt_read(c, out, 16), 8);
	for (i = 0; i < 8; i++) {
		make_punt(p, i);
		assert_memory_equal(&out[i], p, sizeof(*p));
	}
	assert_int_equal(region_has_pattern(h, h->off_punt, h->off_notify), 0);

	/* notify: lossless, read in order */
	for (i = 0; i < 3; i++) {
		memset(&nt, 0, sizeof(nt));
		nt.type = RTR_NOTIFY_MEMBER_IDLE + i;
		nt.member_id = 100 + i;
		nt.handle = 0x1000000000ULL + i;
		assert_int_equal(rte_ring_sp_enqueue_elem(f->dp->notify, &nt, sizeof(nt)), 0);
	}
	assert_int_equal(rtr_seg_notify_read(c, nout, 4), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(nout[i].type, RTR_NOTIFY_MEMBER_IDLE + i);
		assert_int_equal(nout[i].member_id, 100 + i);
		assert_int_equal(nout[i].handle, 0x1000000000ULL + i);
	}
	assert_int_equal(rtr_seg_notify_read(c, nout, 4), 0);
	memset(out, 0, 16 * sizeof(*out));
	free(out);
	free(p);
}

/* ------------------------------------------------------------------ */

static int
count_leftovers(int do_unlink)
{
	char prefix[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(prefix, sizeof(prefix), "rtrelay.t_seg_%d_", (int)getpid());
	dir = opendir("/dev/shm");
	if (dir == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		char name[300];

		if (strncmp(d->d_name, prefix, strlen(prefix)) != 0)
			continue;
		n++;
		if (do_unlink) {
			snprintf(name, sizeof(name), "/%s", d->d_name);
			shm_unlink(name);
		}
	}
	closedir(dir);
	return n;
}

/* Last: every test removed what it created. */
static void
test_no_leftovers(void **state)
{
	(void)state;
	assert_int_equal(count_leftovers(0), 0);
}

static int
group_teardown(void **state)
{
	(void)state;
	count_leftovers(1);
	return 0;
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create),
		T(test_create_invalid_names),
		T(test_stale_segment),
		T(test_stale_half_created),
		T(test_attach_errors),
		T(test_ctl_lock_second_controller),
		T(test_ctl_lock_sigkill),
		T(test_ctl_lock_pid_reuse),
		T(test_killed_controller_mid_session),
		T(test_cmd_take_wipes),
		T(test_pipelining),
		T(test_call_out_of_order),
		T(test_stats_snapshot),
		T(test_punt_ring),
		cmocka_unit_test(test_no_leftovers),
	};

	return cmocka_run_group_tests_name("librtrseg", tests, NULL, group_teardown);
}
