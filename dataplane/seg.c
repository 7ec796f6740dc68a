/* SPDX-License-Identifier: BSD-3-Clause
 * librtrseg: create, attach and use the shared-memory segments (slow path;
 * the dataplane's main lcore and the control-plane processes use it).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_ring_peek_zc.h>
#include <rte_atomic.h>

#include "rtr_seg.h"

#define STASH_MAX		256
#define HEARTBEAT_STALE_NS	(2ULL * 1000 * 1000 * 1000)

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int
rtr_instance_valid(const char *instance)
{
	size_t i, n = strlen(instance);

	if (n == 0 || n > RTR_INSTANCE_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = instance[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
rtr_seg_name(char *buf, size_t len, const char *instance, const char *kind)
{
	int n;

	if (!rtr_instance_valid(instance))
		return -EINVAL;
	n = snprintf(buf, len, "/rtrelay.%s.%s", instance, kind);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Start time of a process (clock ticks since boot), 0 if it is gone. */
static uint64_t
proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* the command name may hold spaces and parentheses: skip past the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	p += 2;
	for (field = 3; field < 22 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL || sscanf(p, "%llu", &start) != 1)
		return 0;
	return start;
}

static int
pid_alive(uint32_t pid)
{
	if (pid == 0)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static size_t
ring_bytes(unsigned int esize, unsigned int count)
{
	ssize_t n = rte_ring_get_memsize_elem(esize, count);

	return n < 0 ? 0 : (size_t)((n + 63) & ~63);
}

static size_t
stats_size(uint32_t n_workers, uint32_t n_ports, uint32_t max_apps, uint64_t *off_names,
	   uint64_t *off_main, uint64_t *off_workers, uint64_t *off_ports, uint64_t *off_apps)
{
	size_t off = sizeof(struct rtr_stats_hdr);

	*off_names = off;
	off += RTR_DROP_SLOTS * RTR_DROP_NAME_LEN;
	*off_main = off;
	off += sizeof(struct rtr_main_stats);
	off = (off + 63) & ~(size_t)63;		/* one cache line per worker block */
	*off_workers = off;
	off += (size_t)n_workers * sizeof(struct rtr_worker_stats);
	*off_ports = off;
	off += (size_t)n_ports * sizeof(struct rtr_port_stats);
	*off_apps = off;
	off += (size_t)n_workers * max_apps * sizeof(struct rtr_app_stats);
	return (off + 4095) & ~(size_t)4095;
}

/* Remove a segment left behind by a dead dataplane of the same owner. */
static int
remove_stale(const char *name, int is_ctl)
{
	struct stat st;
	int fd = shm_open(name, O_RDONLY, 0);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	if (is_ctl && (size_t)st.st_size >= sizeof(struct rtr_ctl_hdr)) {
		struct rtr_ctl_hdr *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);

		if (h != MAP_FAILED) {
			/* live: the pid runs and is the same process (start time) */
			int busy = h->magic == RTR_CTL_MAGIC && pid_alive(h->dp_pid) &&
				   h->dp_start == proc_start_time((pid_t)h->dp_pid);

			munmap(h, sizeof(*h));
			if (busy) {
				close(fd);
				return -EADDRINUSE;
			}
		}
	}
	close(fd);
	return shm_unlink(name) == 0 || errno == ENOENT ? 0 : -errno;
}

static void *
create_shm(const char *name, size_t size, mode_t mode, int *err)
{
	void *p;
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, mode);

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)size) < 0) {
		*err = -errno;
		close(fd);
		shm_unlink(name);
		return NULL;
	}
	if (mode & 0040) {
		/* readers in the rtrelay group, when the group exists */
		struct group *g = getgrnam("rtrelay");

		if (g != NULL && fchown(fd, (uid_t)-1, g->gr_gid) < 0) {
			*err = -errno;
			close(fd);
			shm_unlink(name);
			return NULL;
		}
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		*err = -errno;
		shm_unlink(name);
		return NULL;
	}
	memset(p, 0, size);
	return p;
}

static int
init_ring(struct rtr_seg *seg, uint64_t off, const char *name, unsigned int count,
	  unsigned int flags, struct rte_ring **out)
{
	struct rte_ring *r = (struct rte_ring *)((uint8_t *)seg->ctl + off);
	int rc = rte_ring_init(r, name, count, flags);

	if (rc < 0)
		return rc;
	*out = r;
	return 0;
}

int
rtr_seg_create(const struct rtr_seg_params *p, struct rtr_seg **out)
{
	char ctl_name[64], st_name[64];
	uint64_t off_names, off_main, off_workers, off_ports, off_apps;
	struct rtr_stats_hdr *sh;
	struct rtr_ctl_hdr *h;
	struct rtr_seg *seg;
	size_t off, sz;
	unsigned int i;
	int rc;

	if (rtr_seg_name(ctl_name, sizeof(ctl_name), p->instance, "ctl") < 0 ||
	    rtr_seg_name(st_name, sizeof(st_name), p->instance, "stats") < 0)
		return -EINVAL;
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return -ENOMEM;
	snprintf(seg->instance, sizeof(seg->instance), "%s", p->instance);
	seg->creator = 1;

	rc = remove_stale(ctl_name, 1);
	if (rc == 0)
		rc = remove_stale(st_name, 0);
	if (rc < 0)
		goto out_free;

	/* control segment: header, then the four rings */
	off = sizeof(struct rtr_ctl_hdr);
	off = (off + 63) & ~(size_t)63;
	sz = off;
	sz += ring_bytes(sizeof(struct rtr_msg), RTR_CMD_RING_SIZE);
	sz += ring_bytes(sizeof(struct rtr_reply), RTR_REPLY_RING_SIZE);
	sz += ring_bytes(sizeof(struct rtr_punt), RTR_PUNT_RING_SIZE);
	sz += ring_bytes(sizeof(struct rtr_notify), RTR_NOTIFY_RING_SIZE);
	sz = (sz + 4095) & ~(size_t)4095;
	seg->ctl = create_shm(ctl_name, sz, 0600, &rc);
	if (seg->ctl == NULL)
		goto out_free;
	seg->ctl_size = sz;
	h = seg->ctl;
	h->off_cmd = off;
	h->off_reply = h->off_cmd + ring_bytes(sizeof(struct rtr_msg), RTR_CMD_RING_SIZE);
	h->off_punt = h->off_reply + ring_bytes(sizeof(struct rtr_reply), RTR_REPLY_RING_SIZE);
	h->off_notify = h->off_punt + ring_bytes(sizeof(struct rtr_punt), RTR_PUNT_RING_SIZE);
	rc = init_ring(seg, h->off_cmd, "rtr_cmd", RTR_CMD_RING_SIZE,
		       RING_F_SP_ENQ | RING_F_SC_DEQ, &seg->cmd);
	if (rc == 0)
		rc = init_ring(seg, h->off_reply, "rtr_reply", RTR_REPLY_RING_SIZE,
			       RING_F_SP_ENQ | RING_F_SC_DEQ, &seg->reply);
	/* workers are the punt producers: multi-producer inside one process */
	if (rc == 0)
		rc = init_ring(seg, h->off_punt, "rtr_punt", RTR_PUNT_RING_SIZE,
			       RING_F_SC_DEQ, &seg->punt);
	if (rc == 0)
		rc = init_ring(seg, h->off_notify, "rtr_notify", RTR_NOTIFY_RING_SIZE,
			       RING_F_SP_ENQ | RING_F_SC_DEQ, &seg->notify);
	if (rc < 0)
		goto out_unlink_ctl;
	if (getrandom(&seg->generation, sizeof(seg->generation), 0) != sizeof(seg->generation)) {
		rc = -EIO;
		goto out_unlink_ctl;
	}
	seg->generation |= 1;	/* never 0 */
	h->hdr_size = sizeof(*h);
	h->size = sz;
	h->generation = seg->generation;
	h->dp_pid = (uint32_t)getpid();
	h->dp_start = proc_start_time(getpid());
	h->n_workers = p->n_workers;
	h->udp_port = p->udp_port;
	h->rx_hold = p->rx_hold;
	h->heartbeat_ns = mono_ns();
	h->abi_version = RTR_ABI_VERSION;
	__atomic_store_n(&h->magic, RTR_CTL_MAGIC, __ATOMIC_RELEASE);

	/* stats segment */
	sz = stats_size(p->n_workers, p->n_ports, p->max_apps, &off_names, &off_main,
			&off_workers, &off_ports, &off_apps);
	seg->stats = create_shm(st_name, sz, 0640, &rc);
	if (seg->stats == NULL)
		goto out_unlink_ctl;
	seg->stats_size = sz;
	sh = seg->stats;
	sh->hdr_size = sizeof(*sh);
	sh->size = sz;
	sh->generation = seg->generation;
	sh->dp_pid = (uint32_t)getpid();
	sh->n_workers = p->n_workers;
	sh->n_ports = p->n_ports;
	sh->max_apps = p->max_apps;
	sh->n_drop_reasons = RTR_DROP_MAX;
	sh->off_names = off_names;
	sh->off_main = off_main;
	sh->off_workers = off_workers;
	sh->off_ports = off_ports;
	sh->off_apps = off_apps;
	for (i = 0; i < RTR_DROP_MAX; i++)
		snprintf((char *)sh + off_names + i * RTR_DROP_NAME_LEN, RTR_DROP_NAME_LEN,
			 "%s", rtr_drop_name(i));
	rtr_stats_mainp(sh)->heartbeat_ns = h->heartbeat_ns;
	sh->abi_version = RTR_ABI_VERSION;
	__atomic_store_n(&sh->magic, RTR_STATS_MAGIC, __ATOMIC_RELEASE);
	*out = seg;
	return 0;

out_unlink_ctl:
	munmap(seg->ctl, seg->ctl_size);
	shm_unlink(ctl_name);
out_free:
	free(seg);
	return rc;
}

void
rtr_seg_destroy(struct rtr_seg *seg)
{
	char name[64];

	if (seg == NULL)
		return;
	if (rtr_seg_name(name, sizeof(name), seg->instance, "ctl") == 0)
		shm_unlink(name);
	if (rtr_seg_name(name, sizeof(name), seg->instance, "stats") == 0)
		shm_unlink(name);
	if (seg->ctl != NULL)
		munmap(seg->ctl, seg->ctl_size);
	if (seg->stats != NULL)
		munmap(seg->stats, seg->stats_size);
	free(seg);
}

/* Dequeue up to n elements and wipe their ring slots behind them. */
static unsigned int
take_wiped(struct rte_ring *r, void *out, unsigned int esize, unsigned int n)
{
	struct rte_ring_zc_data zcd;
	unsigned int got;

	got = rte_ring_dequeue_zc_burst_elem_start(r, esize, n, &zcd, NULL);
	if (got == 0)
		return 0;
	memcpy(out, zcd.ptr1, (size_t)zcd.n1 * esize);
	memset(zcd.ptr1, 0, (size_t)zcd.n1 * esize);
	if (got > zcd.n1) {
		memcpy((uint8_t *)out + (size_t)zcd.n1 * esize, zcd.ptr2,
		       (size_t)(got - zcd.n1) * esize);
		memset(zcd.ptr2, 0, (size_t)(got - zcd.n1) * esize);
	}
	rte_ring_dequeue_zc_elem_finish(r, got);
	return got;
}

unsigned int
rtr_seg_cmd_take(struct rtr_seg *seg, struct rtr_msg *out, unsigned int n)
{
	/* commands may carry key material */
	return take_wiped(seg->cmd, out, sizeof(*out), n);
}

/* ---------------------------------------------------------------- */

static int
stats_owner_ok(uid_t owner)
{
	struct passwd *pw;

	if (owner == 0 || owner == geteuid())
		return 1;
	pw = getpwnam("rtrelay");
	return pw != NULL && pw->pw_uid == owner;
}

static void *
map_existing(const char *name, int writable, mode_t want_mode, size_t min, size_t *size,
	     int *err)
{
	struct stat st;
	void *p;
	int fd = shm_open(name, writable ? O_RDWR : O_RDONLY, 0);

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	/* the control segment is the service user's alone; stats are 0640 and
	 * must come from root, ourselves or the rtrelay service user */
	if ((writable && st.st_uid != geteuid()) || (st.st_mode & 0777) != want_mode ||
	    (!writable && !stats_owner_ok(st.st_uid))) {
		*err = -EPERM;
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size < min) {
		*err = -EPROTO;
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*size = (size_t)st.st_size;
	return p;
}

/* The controller lock: {ctl_pid, ctl_session, ctl_start} swapped as one
 * 16-byte word, so a holder is never seen without its start time. A holder
 * whose pid is gone, or whose pid now belongs to a process started at
 * another time, is stale and may be replaced. */
static int
take_lock(struct rtr_seg *seg)
{
	struct rtr_ctl_hdr *h = seg->ctl;
	rte_int128_t *lockw = (rte_int128_t *)&h->ctl_pid;
	uint32_t me = (uint32_t)getpid(), session;
	uint64_t my_start = proc_start_time((pid_t)me);
	rte_int128_t cur, want;
	int tries;

	_Static_assert(offsetof(struct rtr_ctl_hdr, ctl_session) ==
		       offsetof(struct rtr_ctl_hdr, ctl_pid) + 4, "lock word layout");
	_Static_assert(offsetof(struct rtr_ctl_hdr, ctl_start) ==
		       offsetof(struct rtr_ctl_hdr, ctl_pid) + 8, "lock word layout");
	_Static_assert(offsetof(struct rtr_ctl_hdr, ctl_pid) % 16 == 0, "lock word alignment");
	do {
		if (getrandom(&session, sizeof(session), 0) != sizeof(session))
			return -EIO;
	} while (session == 0);
	if (getrandom(&seg->next_context, sizeof(seg->next_context), 0) !=
	    sizeof(seg->next_context))
		return -EIO;

	for (tries = 0; tries < 16; tries++) {
		uint32_t holder;
		uint64_t start;

		/* a torn read only makes the exchange below fail and retry */
		cur.val[0] = __atomic_load_n(&lockw->val[0], __ATOMIC_ACQUIRE);
		cur.val[1] = __atomic_load_n(&lockw->val[1], __ATOMIC_ACQUIRE);
		memcpy(&holder, &cur.val[0], sizeof(holder));
		start = cur.val[1];
		/* one handle per process (a second one would be a second producer);
		 * a holder with our pid but another start time is a dead one */
		if (holder == me && start == my_start)
			return -EBUSY;
		if (holder != 0 && holder != me && pid_alive(holder) &&
		    start == proc_start_time((pid_t)holder))
			return -EBUSY;
		want.val[0] = (uint64_t)me | ((uint64_t)session << 32);
		want.val[1] = my_start;
		if (rte_atomic128_cmp_exchange(lockw, &cur, &want, 0, __ATOMIC_ACQ_REL,
					       __ATOMIC_ACQUIRE)) {
			seg->session = session;
			seg->next_seq = 1;
			seg->control = 1;
			return 0;
		}
	}
	return -EBUSY;
}

static void
release_lock(struct rtr_seg *seg)
{
	rte_int128_t *lockw = (rte_int128_t *)&seg->ctl->ctl_pid;
	rte_int128_t cur, zero = { .val = { 0, 0 } };
	uint32_t holder;

	cur.val[0] = __atomic_load_n(&lockw->val[0], __ATOMIC_ACQUIRE);
	cur.val[1] = __atomic_load_n(&lockw->val[1], __ATOMIC_ACQUIRE);
	memcpy(&holder, &cur.val[0], sizeof(holder));
	if (holder == (uint32_t)getpid() && (uint32_t)(cur.val[0] >> 32) == seg->session)
		rte_atomic128_cmp_exchange(lockw, &cur, &zero, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
	seg->control = 0;
}

int
rtr_seg_attach(const char *instance, unsigned int flags, struct rtr_seg **out)
{
	char name[64];
	struct rtr_seg *seg;
	int rc = 0;

	if (!rtr_instance_valid(instance))
		return -EINVAL;
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return -ENOMEM;
	snprintf(seg->instance, sizeof(seg->instance), "%s", instance);

	if (flags & RTR_ATTACH_CONTROL) {
		struct rtr_ctl_hdr *h;

		rtr_seg_name(name, sizeof(name), instance, "ctl");
		seg->ctl = map_existing(name, 1, 0600, sizeof(struct rtr_ctl_hdr),
					&seg->ctl_size, &rc);
		if (seg->ctl == NULL)
			goto out_free;
		h = seg->ctl;
		if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != RTR_CTL_MAGIC ||
		    h->abi_version != RTR_ABI_VERSION || h->hdr_size != sizeof(*h) ||
		    h->size != seg->ctl_size || h->off_notify >= h->size) {
			rc = -EPROTO;
			goto out_unmap;
		}
		if (!pid_alive(h->dp_pid) || h->dp_start != proc_start_time((pid_t)h->dp_pid)) {
			rc = -ESRCH;	/* gone, or its pid now belongs to another process */
			goto out_unmap;
		}
		seg->generation = h->generation;
		seg->cmd = (struct rte_ring *)((uint8_t *)h + h->off_cmd);
		seg->reply = (struct rte_ring *)((uint8_t *)h + h->off_reply);
		seg->punt = (struct rte_ring *)((uint8_t *)h + h->off_punt);
		seg->notify = (struct rte_ring *)((uint8_t *)h + h->off_notify);
		seg->stash = calloc(STASH_MAX, sizeof(struct rtr_reply));
		if (seg->stash == NULL) {
			rc = -ENOMEM;
			goto out_unmap;
		}
		rc = take_lock(seg);
		if (rc < 0)
			goto out_unmap;
		/* replies left by an earlier controller are not ours */
		{
			struct rtr_reply r;

			while (rte_ring_sc_dequeue_elem(seg->reply, &r, sizeof(r)) == 0)
				;
		}
	}
	if (flags & RTR_ATTACH_STATS) {
		rtr_seg_name(name, sizeof(name), instance, "stats");
		seg->stats = map_existing(name, 0, 0640, sizeof(struct rtr_stats_hdr),
					  &seg->stats_size, &rc);
		if (seg->stats == NULL)
			goto out_unlock;
		if (seg->stats->magic != RTR_STATS_MAGIC ||
		    seg->stats->abi_version != RTR_ABI_VERSION ||
		    seg->stats->size != seg->stats_size) {
			rc = -EPROTO;
			goto out_unlock;
		}
		if (seg->ctl != NULL && seg->stats->generation != seg->generation) {
			rc = -EAGAIN;	/* a dataplane restart in between */
			goto out_unlock;
		}
		if (seg->ctl == NULL)
			seg->generation = seg->stats->generation;
	}
	*out = seg;
	return 0;

out_unlock:
	if (seg->stats != NULL)
		munmap(seg->stats, seg->stats_size);
	if (seg->control)
		release_lock(seg);
out_unmap:
	if (seg->ctl != NULL)
		munmap(seg->ctl, seg->ctl_size);
out_free:
	free(seg->stash);
	free(seg);
	return rc;
}

void
rtr_seg_detach(struct rtr_seg *seg)
{
	if (seg == NULL)
		return;
	if (seg->control)
		release_lock(seg);
	if (seg->ctl != NULL)
		munmap(seg->ctl, seg->ctl_size);
	if (seg->stats != NULL)
		munmap(seg->stats, seg->stats_size);
	free(seg->stash);
	free(seg);
}

int
rtr_seg_alive(const struct rtr_seg *seg)
{
	uint64_t hb;
	uint32_t pid;

	if (seg->ctl != NULL) {
		hb = __atomic_load_n(&seg->ctl->heartbeat_ns, __ATOMIC_ACQUIRE);
		pid = seg->ctl->dp_pid;
	} else {
		hb = __atomic_load_n(&rtr_stats_mainp(seg->stats)->heartbeat_ns,
				     __ATOMIC_ACQUIRE);
		pid = seg->stats->dp_pid;
	}
	return pid_alive(pid) && mono_ns() - hb < HEARTBEAT_STALE_NS;
}

int
rtr_seg_send(struct rtr_seg *seg, uint16_t msg_id, const void *body, size_t len,
	     uint32_t *context)
{
	struct rtr_msg m;

	if (!seg->control)
		return -EPERM;
	if (len > sizeof(m.body))
		return -EMSGSIZE;
	memset(&m, 0, sizeof(m));
	m.msg_id = msg_id;
	m.version = RTR_MSG_VERSION;
	m.context = ++seg->next_context;
	m.session = seg->session;
	m.seq = seg->next_seq;
	if (len)
		memcpy(m.body, body, len);
	if (rte_ring_sp_enqueue_elem(seg->cmd, &m, sizeof(m)) != 0) {
		seg->next_context--;
		return -EAGAIN;
	}
	seg->next_seq++;
	/* the stack copy may hold key material */
	memset(&m, 0, sizeof(m));
	__asm__ __volatile__("" : : "r"(&m) : "memory");
	if (context != NULL)
		*context = seg->next_context;
	return 0;
}

static void
nap_us(unsigned int us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

int
rtr_seg_recv_reply(struct rtr_seg *seg, struct rtr_reply *out, int timeout_ms)
{
	uint64_t deadline = mono_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ULL;
	unsigned int spins = 0;

	if (!seg->control)
		return -EPERM;
	if (seg->n_stash > 0) {
		*out = seg->stash[0];
		memmove(seg->stash, seg->stash + 1, (size_t)(--seg->n_stash) * sizeof(*out));
		return 0;
	}
	for (;;) {
		if (rte_ring_sc_dequeue_elem(seg->reply, out, sizeof(*out)) == 0)
			return 0;
		if (mono_ns() >= deadline)
			return -ETIMEDOUT;
		if ((++spins & 255) == 0 && !pid_alive(seg->ctl->dp_pid))
			return -ESRCH;
		nap_us(50);
	}
}

int
rtr_seg_call(struct rtr_seg *seg, uint16_t msg_id, const void *body, size_t len,
	     struct rtr_reply *out, int timeout_ms)
{
	uint64_t deadline;
	uint32_t ctx;
	unsigned int i;
	int rc;

	rc = rtr_seg_send(seg, msg_id, body, len, &ctx);
	if (rc < 0)
		return rc;
	/* an earlier reply for this context may already be stashed */
	for (i = 0; i < seg->n_stash; i++) {
		if (seg->stash[i].context == ctx) {
			*out = seg->stash[i];
			memmove(seg->stash + i, seg->stash + i + 1,
				(size_t)(seg->n_stash - i - 1) * sizeof(*out));
			seg->n_stash--;
			return out->status;
		}
	}
	deadline = mono_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ULL;
	for (;;) {
		struct rtr_reply r;

		if (rte_ring_sc_dequeue_elem(seg->reply, &r, sizeof(r)) != 0) {
			if (mono_ns() >= deadline)
				return -ETIMEDOUT;
			if (!pid_alive(seg->ctl->dp_pid))
				return -ESRCH;
			nap_us(50);
			continue;
		}
		if (r.context == ctx) {
			*out = r;
			return r.status;
		}
		/* a pipelined reply for someone else: keep it, oldest dropped */
		if (seg->n_stash == STASH_MAX) {
			memmove(seg->stash, seg->stash + 1, (STASH_MAX - 1) * sizeof(r));
			seg->n_stash--;
		}
		seg->stash[seg->n_stash++] = r;
	}
}

int
rtr_seg_punt_read(struct rtr_seg *seg, struct rtr_punt *out, unsigned int n)
{
	if (!seg->control)
		return -EPERM;
	/* JOINs carry tokens: wipe the slots as they are read */
	return (int)take_wiped(seg->punt, out, sizeof(*out), n);
}

int
rtr_seg_notify_read(struct rtr_seg *seg, struct rtr_notify *out, unsigned int n)
{
	if (!seg->control)
		return -EPERM;
	return (int)rte_ring_sc_dequeue_burst_elem(seg->notify, out, sizeof(*out), n, NULL);
}

/* ---------------------------------------------------------------- */

void
rtr_seg_stats_main(const struct rtr_seg *seg, struct rtr_main_stats *out)
{
	struct rtr_stats_hdr *h = seg->stats;
	uint64_t e1, e2;
	int tries = 0;

	do {
		e1 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&h->in_progress, __ATOMIC_ACQUIRE) && tries++ < 100000)
			;
		memcpy(out, rtr_stats_mainp(h), sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
	} while (e1 != e2 && tries++ < 100000);
}

void
rtr_seg_stats_workers(const struct rtr_seg *seg, struct rtr_worker_stats *sum)
{
	struct rtr_stats_hdr *h = seg->stats;
	unsigned int w, i;

	memset(sum, 0, sizeof(*sum));
	for (w = 0; w < h->n_workers; w++) {
		const uint64_t *src = (const uint64_t *)rtr_stats_worker(h, w);
		uint64_t *dst = (uint64_t *)sum;

		/* every field is a u64 counter written by one worker */
		for (i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
	sum->drops_total = 0;
	for (i = 0; i < RTR_DROP_SLOTS; i++)
		sum->drops_total += sum->drops[i];
}

int
rtr_seg_stats_port(const struct rtr_seg *seg, unsigned int i, struct rtr_port_stats *out)
{
	struct rtr_stats_hdr *h = seg->stats;
	uint64_t e1, e2;
	int tries = 0;

	if (i >= h->n_ports)
		return -ENOENT;
	do {
		e1 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
		memcpy(out, rtr_stats_port(h, i), sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
	} while ((e1 != e2 || h->in_progress) && tries++ < 100000);
	return 0;
}

int
rtr_seg_stats_app(const struct rtr_seg *seg, unsigned int app, struct rtr_app_stats *sum)
{
	struct rtr_stats_hdr *h = seg->stats;
	unsigned int w;

	if (app >= h->max_apps)
		return -ENOENT;
	memset(sum, 0, sizeof(*sum));
	for (w = 0; w < h->n_workers; w++) {
		const struct rtr_app_stats *a = rtr_stats_app(h, w, app);

		sum->in_pkts += a->in_pkts;
		sum->in_bytes += a->in_bytes;
		sum->out_pkts += a->out_pkts;
		sum->out_bytes += a->out_bytes;
		sum->drops += a->drops;
	}
	return 0;
}

const char *
rtr_seg_drop_name(const struct rtr_seg *seg, unsigned int reason)
{
	struct rtr_stats_hdr *h = seg->stats;

	if (reason >= h->n_drop_reasons || reason >= RTR_DROP_SLOTS)
		return "unknown";
	return (const char *)h + h->off_names + reason * RTR_DROP_NAME_LEN;
}

const char *
rtr_seg_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such dataplane instance (is rtr-dataplane running with this --instance?)";
	case -EPERM:
		return "segment owner or mode is wrong (run as the service user; control segment must be 0600)";
	case -EACCES:
		return "permission denied on the segment";
	case -EPROTO:
		return "segment layout or ABI version does not match this build";
	case -ESRCH:
		return "the dataplane that created the segment is not running";
	case -EBUSY:
		return "another controller holds the control lock";
	case -EAGAIN:
		return "ring full or dataplane restarted, try again";
	case -ETIMEDOUT:
		return "no reply from the dataplane in time";
	case -EADDRINUSE:
		return "a live dataplane already serves this instance";
	case -EINVAL:
		return "invalid argument";
	case -ENOSPC:
		return "table full";
	case -EEXIST:
		return "already exists";
	case -EMSGSIZE:
		return "message too large";
	default:
		return strerror(-err);
	}
}
