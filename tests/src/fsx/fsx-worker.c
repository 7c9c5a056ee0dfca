// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: the checkpoint gate, the per-side range reservations, op
 * generation and the VM and ingress worker threads.
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Checkpoint gate and per-side range reservations                     */

pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
uint64_t ops_issued, in_flight, ckpt_done_at;
bool ckpt_pending;
/* --failover: the control thread waits for fo_triggered (under gate_lock). */
pthread_cond_t fo_cond = PTHREAD_COND_INITIALIZER;
bool fo_triggered, fo_abort;
uint64_t pre_done_in_flight;	/* ops begun before phase FO_DONE */

void do_checkpoint(int tid, uint64_t at)
{
	char what[64];

	snprintf(what, sizeof(what), "before checkpoint after op %" PRIu64, at);
	verify_status(what);
	if (__atomic_load_n(&unres_n[0], __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&unres_n[1], __ATOMIC_ACQUIRE))
		fail("internal: checkpoint with unresolved sectors (view %" PRIu64 ", base %" PRIu64 ")",
		     unres_n[0], unres_n[1]);
	ring_log(at, tid, OP_CKPT, 0, 0);
	dev_checkpoint();
	memcpy(view, base, bytes(len_sectors));
	memcpy(base_ckpt, base, bytes(len_sectors));
	memset(vm_wrote, 0, nr_chunks);
	memset(in_wrote, 0, nr_chunks);
	if (vm_pre)
		memset(vm_pre, 0, nr_chunks);
	nr_checkpoints++;
	snprintf(what, sizeof(what), "after checkpoint after op %" PRIu64, at);
	verify_status(what);
}

/* --fault: the op count of event i (per episode: start, probes, end). */
static uint64_t fault_event_at(int i)
{
	return i % 3 == 2 ? opt.fault_end[i / 3] :
	       i % 3 ? opt.fault_probe[i / 3] : opt.fault_start[i / 3];
}

/*
 * Start an op: returns its id, or 0 when the run is over.  The thread that
 * finds a checkpoint due closes the gate, waits until no op is in flight,
 * and runs the checkpoint alone.  With --failover there is no checkpoint
 * from the failover op on; handing out that op wakes the control thread,
 * and *phase is the failover phase the op starts in.
 */
static uint64_t op_begin(int tid, int *phase)
{
	uint64_t id = 0, at;

	*phase = FO_BEFORE;

	pthread_mutex_lock(&gate_lock);
	for (;;) {
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED) || ops_issued >= opt.ops)
			break;
		if (ckpt_pending) {
			pthread_cond_wait(&gate_cond, &gate_lock);
			continue;
		}
		if (opt.mirror && mir_ev_next < opt.mir_nevents &&
		    ops_issued >= opt.mir_event_at[mir_ev_next] + MIRROR_EVENT_SLACK) {
			/* far enough past the next mirror event: wait for it */
			pthread_cond_wait(&gate_cond, &gate_lock);
			continue;
		}
		if (opt.fault_leg >= 0 && flt_ev_next < 3 * opt.fault_eps &&
		    ops_issued >= fault_event_at(flt_ev_next) +
				  (flt_ev_next % 3 == 2 ? FAULT_END_SLACK : FAULT_START_SLACK)) {
			/* far enough past the next fault event: wait for it */
			pthread_cond_wait(&gate_cond, &gate_lock);
			continue;
		}
		if (opt.ckpt_every && ops_issued && ops_issued % opt.ckpt_every == 0 &&
		    ckpt_done_at != ops_issued &&
		    !(__atomic_load_n(&fault_state, __ATOMIC_ACQUIRE) & 1) &&
		    (!opt.failover || ops_issued < opt.failover_at)) {
			at = ckpt_done_at = ops_issued;
			ckpt_pending = true;
			while (in_flight)
				pthread_cond_wait(&gate_cond, &gate_lock);
			pthread_mutex_unlock(&gate_lock);
			do_checkpoint(tid, at);
			pthread_mutex_lock(&gate_lock);
			ckpt_pending = false;
			pthread_cond_broadcast(&gate_cond);
			continue;
		}
		id = ++ops_issued;
		in_flight++;
		if (opt.mirror && mir_ev_next < opt.mir_nevents &&
		    id == opt.mir_event_at[mir_ev_next])
			pthread_cond_broadcast(&fo_cond);
		if (opt.fault_leg >= 0 && flt_ev_next < 3 * opt.fault_eps &&
		    id >= fault_event_at(flt_ev_next))
			pthread_cond_broadcast(&fo_cond);
		if (opt.failover) {
			*phase = __atomic_load_n(&fo_phase, __ATOMIC_ACQUIRE);
			if (*phase != FO_DONE)
				pre_done_in_flight++;
			if (id == opt.failover_at) {
				fo_triggered = true;
				pthread_cond_broadcast(&fo_cond);
			}
		}
		break;
	}
	pthread_mutex_unlock(&gate_lock);
	return id;
}

static void op_end(int phase)
{
	pthread_mutex_lock(&gate_lock);
	if (!--in_flight)
		pthread_cond_broadcast(&gate_cond);
	if (opt.failover && phase != FO_DONE && !--pre_done_in_flight)
		pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

struct rangeset side_ranges[2] = {
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {} },
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {} },
};

static bool range_busy(struct rangeset *rs, uint64_t start, uint64_t end)
{
	int i;

	for (i = 0; i < MAX_THREADS; i++)
		if (rs->r[i].used && start < rs->r[i].end && rs->r[i].start < end)
			return true;
	return false;
}

/* Wait (rather than re-pick: keeps each thread's op sequence replayable). */
int range_reserve(struct rangeset *rs, uint64_t start, uint64_t end)
{
	int i;

	pthread_mutex_lock(&rs->lock);
	while (range_busy(rs, start, end))
		pthread_cond_wait(&rs->cond, &rs->lock);
	for (i = 0; rs->r[i].used; i++)
		;
	rs->r[i].start = start;
	rs->r[i].end = end;
	rs->r[i].used = true;
	pthread_mutex_unlock(&rs->lock);
	return i;
}

void range_release(struct rangeset *rs, int slot)
{
	pthread_mutex_lock(&rs->lock);
	rs->r[slot].used = false;
	pthread_cond_broadcast(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
}

/* ------------------------------------------------------------------ */
/* Worker threads                                                      */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void mark_chunks(uint8_t *flags, uint64_t start, uint64_t nsect)
{
	uint64_t c;

	for (c = chunk_of(start); c <= chunk_of(start + nsect - 1); c++)
		__atomic_store_n(&flags[c], 1, __ATOMIC_RELAXED);
}

/*
 * Pick the next op from the thread's own PRNG: the start is either anywhere
 * or inside a hot chunk; the size is whole chunks, chunk aligned, tiny, up to
 * a chunk border, or anything up to --max-sectors.
 */
static void gen_op(struct worker *w, enum op_kind *kind, uint64_t *start,
		   uint64_t *nsect)
{
	uint64_t s, n, c, k, r = rnd(&w->rng, 100);

	if (w->vm)
		*kind = r < 50 ? OP_VM_READ : OP_VM_WRITE;
	else
		*kind = r < 75 ? OP_IN_WRITE : OP_IN_READ;

	if (rnd(&w->rng, 100) < opt.hot) {
		c = hot_chunk[rnd(&w->rng, HOT_CHUNKS)];
		s = chunk_start(c) + rnd(&w->rng, chunk_len(c));
	} else {
		s = rnd(&w->rng, len_sectors);
	}
	c = chunk_of(s);
	r = rnd(&w->rng, 100);
	if (r < 15) {			/* whole chunks, exactly */
		k = opt.max_sectors / opt.chunk;
		s = chunk_start(c);
		n = (1 + rnd(&w->rng, k ? k : 1)) * opt.chunk;
	} else if (r < 30) {		/* chunk aligned start */
		s = chunk_start(c);
		n = 1 + rnd(&w->rng, opt.max_sectors);
	} else if (r < 50) {		/* tiny */
		n = 1 + rnd(&w->rng, opt.max_sectors < 8 ? opt.max_sectors : 8);
	} else if (r < 65) {		/* ends exactly at a chunk border */
		n = chunk_start(c) + chunk_len(c) - s;
	} else {
		n = 1 + rnd(&w->rng, opt.max_sectors);
	}
	if (n > opt.max_sectors)
		n = opt.max_sectors;
	if (n > len_sectors - s)
		n = len_sectors - s;
	*start = s;
	*nsect = n;
}

uint64_t ops_now(void)
{
	uint64_t n;

	pthread_mutex_lock(&gate_lock);
	n = ops_issued;
	pthread_mutex_unlock(&gate_lock);
	return n;
}

void sleep_ms(unsigned int ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L }, NULL);
}

pthread_barrier_t start_barrier;

void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct rangeset *rs = &side_ranges[!w->vm];
	uint64_t id, start, nsect, t, zero;
	enum op_kind kind;
	char what[96];
	size_t off, len;
	int slot, phase, pe;
	bool post;

	if (opt.make_it_fail && !opt.selftest)
		set_make_it_fail();
	/* All start together, so no side runs its whole share alone. */
	pthread_barrier_wait(&start_barrier);
	while (w->quota--) {
		gen_op(w, &kind, &start, &nsect);
		id = op_begin(w->tid, &phase);
		if (!id)
			break;
		slot = range_reserve(rs, start, start + nsect);
		ring_log(id, w->tid, kind, start, nsect);
		off = bytes(start);
		len = bytes(nsect);
		post = false;
		if (opt.fault_leg >= 0) {
			fault_do_op(w->tid, id, kind, start, nsect, w->buf, EXP_MAY,
				    w->vm ? "VM worker" : "ingress worker");
			w->nr[kind]++;
			range_release(rs, slot);
			op_end(phase);
			fault_pace();
			continue;
		}
		if (opt.failover && !w->vm) {
			post = ingress_op_failover(w, kind, id, start, nsect);
			w->nr[kind]++;
			range_release(rs, slot);
			op_end(phase);
			if (post && ++w->post_fence >= POST_FENCE_OPS)
				break;
			continue;
		}
		switch (kind) {
		case OP_VM_READ:
		case OP_IN_READ:
			dev_io(kind == OP_VM_READ ? DEV_VM : DEV_INGRESS,
			       w->buf, start, nsect, false, id);
			if (kind == OP_VM_READ && phase == FO_DONE) {
				/* the first VM read begun after the failover returned */
				t = now_ns();
				zero = 0;
				__atomic_compare_exchange_n(&fo_first_read, &zero, t, false,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			}
			snprintf(what, sizeof(what), "%s op %" PRIu64 " (%s)",
				 op_name[kind], id,
				 kind == OP_VM_READ ? "VM read vs model view" :
				 "ingress read vs model base");
			check_buf(what, kind == OP_VM_READ ? DEV_VM : DEV_INGRESS,
				  off, (kind == OP_VM_READ ? view : base) + off,
				  w->buf, len);
			break;
		case OP_VM_WRITE:
			pat_fill(w->buf, id, w->tid, start, nsect);
			fleece_note_write(true, start, nsect, false);
			dev_io(DEV_VM, w->buf, start, nsect, true, id);
			fleece_note_write(true, start, nsect, true);
			memcpy(view + off, w->buf, len);
			mark_chunks(vm_wrote, start, nsect);
			if (opt.failover) {
				pe = __atomic_load_n(&fo_phase, __ATOMIC_SEQ_CST);
				if (pe == FO_BEFORE) {
					mark_chunks(vm_pre, start, nsect);	/* active at the switch */
				} else {
					mark_chunks(fo_vmw, start, nsect);	/* dirty at the end */
					if (phase != FO_DONE)	/* maybe active at the switch */
						mark_chunks(fo_race, start, nsect);
				}
			}
			break;
		case OP_IN_WRITE:
			pat_fill(w->buf, id, w->tid, start, nsect);
			fleece_note_write(false, start, nsect, false);
			dev_io(DEV_INGRESS, w->buf, start, nsect, true, id);
			fleece_note_write(false, start, nsect, true);
			memcpy(base + off, w->buf, len);
			mark_chunks(in_wrote, start, nsect);
			break;
		default:
			break;
		}
		w->nr[kind]++;
		range_release(rs, slot);
		op_end(phase);
	}
	return NULL;
}
