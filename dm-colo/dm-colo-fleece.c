// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the colo-fleece target, a read-only point-in-time view of a
 * colo device's base for backups. See dm-colo-fleece.h for the view and
 * dm-colo-save.c for the copy-before-write that keeps it.
 *
 *   colo-fleece <base> <buffer> [<#opt> <opt>...]
 *
 * It attaches to the live colo device whose base is <base>, as the
 * ingress does (dm-colo-target.c), and holds it open. Its chunk is the
 * colo device's; dm splits its bios at chunk borders. The view starts at
 * its first resume (colo_fleece_activate()).
 *
 * Its bios are counted in the colo device's in-flight I/O and held with
 * the ingress's (while the colo device is suspended or checkpoints), so a
 * colo table reload hands them over with the rest; a read holds its chunk
 * shared in the colo device's lock until it completes.
 */
#include <linux/blkdev.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include "dm-colo.h"
#include "dm-colo-fleece.h"

#define DM_MSG_PREFIX "colo-fleece"

static const char *fleece_name(struct colo_fleece *fl)
{
	return dm_device_name(dm_table_get_md(fl->ti->table));
}

/* [<#opt> <opt>...]: timeout <ms>, read_once, persistent, reattach. */
static int parse_options(struct dm_target *ti, struct colo_fleece *fl,
			 unsigned int argc, char **argv)
{
	unsigned int nr, i, ms;

	fl->timeout_ms = COLO_FLEECE_DEFAULT_TIMEOUT_MS;
	if (!argc)
		return 0;
	if (kstrtouint(argv[0], 10, &nr) || nr != argc - 1) {
		ti->error = "Invalid number of optional arguments";
		return -EINVAL;
	}
	for (i = 1; i < argc; i++) {
		if (!strcasecmp(argv[i], "timeout")) {
			if (i + 1 >= argc || kstrtouint(argv[i + 1], 10, &ms) ||
			    !ms || ms > COLO_FLEECE_MAX_TIMEOUT_MS) {
				ti->error = "Invalid timeout: 1 to 3600000 milliseconds";
				return -EINVAL;
			}
			fl->timeout_ms = ms;
			i++;
			continue;
		}
		if (!strcasecmp(argv[i], "read_once")) {
			fl->read_once = true;
			continue;
		}
		if (!strcasecmp(argv[i], "persistent")) {
			fl->persistent = true;
			continue;
		}
		if (!strcasecmp(argv[i], "reattach")) {
			fl->persistent = true;
			fl->reattach = true;
			continue;
		}
		ti->error = "Unknown optional argument";
		return -EINVAL;
	}
	return 0;
}

/* colo-fleece <base> <buffer> [<#opt> <opt>...] */
static int fleece_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct colo_fleece *fl;
	int r;

	if (argc < 2) {
		ti->error = "Invalid argument count: colo-fleece <base> <buffer> [<#opt> <opt>...]";
		return -EINVAL;
	}
	fl = kzalloc(sizeof(*fl), GFP_KERNEL);
	if (!fl) {
		ti->error = "Cannot allocate colo-fleece context";
		return -ENOMEM;
	}
	fl->ti = ti;
	r = parse_options(ti, fl, argc - 2, argv + 2);
	if (r)
		goto bad_options;

	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table),
			  &fl->base);
	if (r) {
		ti->error = "Error opening base device";
		goto bad_options;
	}
	/* Saves write the buffer whatever the table's mode. */
	r = dm_get_device(ti, argv[1],
			  dm_table_get_mode(ti->table) | COLO_OPEN_WRITE,
			  &fl->buffer);
	if (r) {
		ti->error = "Error opening buffer device";
		goto bad_buffer;
	}
	if (fl->base->bdev->bd_dev == fl->buffer->bdev->bd_dev) {
		ti->error = "The buffer must not be the base device";
		r = -EINVAL;
		goto bad_attach;
	}
	if (fl->persistent) {
		r = colo_fleece_map_alloc(fl, &ti->error);
		if (r)
			goto bad_attach;
	}

	/* Sets the geometry, sets up the state, and makes it reachable. */
	r = colo_fleece_attach(ti, fl);
	if (r)
		goto bad_attach;
	/* Inactive until its resume: the data path does not use it yet. */
	if (fl->persistent) {
		r = colo_fleece_map_open(fl, &ti->error);
		if (r)
			goto bad_max_io;
	}

	r = dm_set_target_max_io_len(ti, 1ULL << fl->chunk_shift);
	if (r) {
		ti->error = "Cannot set the chunk as the largest I/O";
		goto bad_max_io;
	}
	ti->num_flush_bios = 1;
	/* Legs without a cache (brd) still let a flush commit releases. */
	ti->flush_supported = fl->persistent;
	ti->num_discard_bios = 1;
	ti->discards_supported = true;
	ti->per_io_data_size = sizeof(struct colo_io);
	ti->private = fl;
	return 0;

bad_max_io:
	colo_fleece_detach(fl);
	colo_fleece_wait_idle(fl);
	colo_fleece_destroy(fl);
bad_attach:
	colo_fleece_map_free(fl);
	dm_put_device(ti, fl->buffer);
bad_buffer:
	dm_put_device(ti, fl->base);
bad_options:
	kfree(fl);
	return r;
}

static void fleece_dtr(struct dm_target *ti)
{
	struct colo_fleece *fl = ti->private;

	colo_fleece_detach(fl);
	/* Saves still in flight (let go by a timeout) end first. */
	colo_fleece_wait_idle(fl);
	colo_fleece_destroy(fl);
	colo_fleece_map_free(fl);
	dm_put_device(ti, fl->buffer);
	dm_put_device(ti, fl->base);
	kfree(fl);
}

/* The view starts at the first resume; it is never restarted. */
static int fleece_preresume(struct dm_target *ti)
{
	struct colo_fleece *fl = ti->private;

	if (colo_fleece_state(fl) != COLO_FLEECE_INACTIVE)
		return 0;
	return colo_fleece_activate(fl);
}

/*
 * With read_once, a read of a whole chunk releases it when it completes
 * (fleece_end_io()): it holds the chunk exclusive, and the released
 * bitmap's leaf is allocated before (without memory, in the worker, the
 * read is a plain one). Returns false when the bio was sent to the worker.
 */
static bool read_once_prepare(struct colo_c *cc, struct colo_fleece *fl,
			      struct bio *bio, struct colo_io *io,
			      bool in_worker, bool *once)
{
	*once = fl->read_once &&
		io->sector == colo_chunk_to_sector(io->chunk,
						   fl->chunk_shift) &&
		bio_sectors(bio) == colo_chunk_len(io->chunk, fl->ti->len,
						   fl->chunk_shift);
	if (!*once || !colo_bitmap_prepare(&fl->released, io->chunk,
					   in_worker ? GFP_NOIO : GFP_NOWAIT))
		return true;
	*once = false;
	if (in_worker)
		return true;
	colo_defer_to_worker(cc, bio);
	return false;
}

/* A read of the fleece: from the buffer if saved, else from base. */
static int fleece_read(struct colo_c *cc, struct colo_fleece *fl,
		       struct bio *bio, struct colo_io *io, bool in_worker)
{
	sector_t offset;
	bool once;
	u64 slot;

	if (!colo_fleece_in_view(fl, io->chunk))
		return colo_fail_bio(bio);
	if (!read_once_prepare(cc, fl, bio, io, in_worker, &once))
		return DM_MAPIO_SUBMITTED;
	/* A counted read: not when granted a hold while it was parked. */
	if (once) {
		if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
				   COLO_HOLD_EXCL, bio))
			return DM_MAPIO_SUBMITTED;
	} else if (io->holder.hold == COLO_HOLD_NONE &&
		   colo_lock_read(&cc->locks, io->chunk)) {
		io->counted_read = true;
	} else if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
				  COLO_HOLD_SHARED, bio)) {
		return DM_MAPIO_SUBMITTED;
	}

	/* Held until end_io: no save and no release of the chunk meanwhile. */
	if (!colo_fleece_in_view(fl, io->chunk))
		return colo_fail_bio(bio);
	io->fleece_release = once;
	if (colo_bitmap_test(&fl->saved, io->chunk)) {
		if (WARN_ON_ONCE(!colo_fleece_slot(fl, io->chunk, &slot)))
			return colo_fail_bio(bio);
		offset = io->sector - colo_chunk_to_sector(io->chunk,
							   fl->chunk_shift);
		bio_set_dev(bio, fl->buffer->bdev);
		bio->bi_iter.bi_sector = colo_fleece_slot_sector(fl, slot) +
					 offset;
		return DM_MAPIO_REMAPPED;
	}
	colo_remap(io, bio, fl->base->bdev);
	return DM_MAPIO_REMAPPED;
}

/*
 * A discard releases the chunks it covers whole, one at a time, each held
 * exclusive (a busy one parks the bio; io->chunk is the next to release).
 */
static int fleece_discard(struct colo_c *cc, struct colo_fleece *fl,
			  struct bio *bio, struct colo_io *io, bool in_worker)
{
	u64 end = colo_end_whole_chunk(io->sector, bio_sectors(bio),
				       fl->ti->len, fl->chunk_shift);
	int r;

	for (; io->chunk < end; io->chunk++) {
		if (!colo_fleece_in_view(fl, io->chunk))
			continue;
		if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
				   COLO_HOLD_EXCL, bio))
			return DM_MAPIO_SUBMITTED;
		r = colo_fleece_release_chunk(fl, io->chunk,
					      in_worker ? GFP_NOIO : GFP_NOWAIT);
		colo_lock_release(&cc->locks, &io->holder);
		if (r == -ENOMEM && !in_worker)
			return colo_defer_to_worker(cc, bio);
		if (r)
			return colo_fail_bio(bio);
	}
	bio_endio(bio);
	return DM_MAPIO_SUBMITTED;
}

/*
 * A fleece bio, from map or the colo device's worker (a parked or held
 * bio runs there again). Counted in cc's in-flight I/O.
 */
int colo_fleece_process(struct colo_c *cc, struct bio *bio,
			struct colo_io *io, bool in_worker)
{
	struct colo_fleece *fl = io->fleece;

	if (colo_fleece_state(fl) != COLO_FLEECE_ACTIVE)
		return colo_fail_bio(bio);
	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return fleece_read(cc, fl, bio, io, in_worker);
	case REQ_OP_DISCARD:
		return fleece_discard(cc, fl, bio, io, in_worker);
	default:
		return colo_fail_bio(bio);
	}
}

static int fleece_map(struct dm_target *ti, struct bio *bio)
{
	struct colo_fleece *fl = ti->private;
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc;
	bool entered;

	memset(io, 0, offsetof(struct colo_io, copy));
	io->fleece = fl;
	io->sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	/*
	 * Without a map nothing of the fleece outlives it: a flush has
	 * nothing to write. With one, it ends after the map's next commit
	 * (the releases before it).
	 */
	if (op_is_flush(bio->bi_opf) && !bio_sectors(bio)) {
		if (fl->map)
			colo_fleece_commit_flush(fl, bio);
		else
			bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	/* Read-only: a bio cannot carry EROFS, so EIO, said in the log. */
	if (bio_op(bio) != REQ_OP_READ && bio_op(bio) != REQ_OP_DISCARD) {
		DMERR_LIMIT("%s: write refused: the fleece is read-only",
			    fleece_name(fl));
		return DM_MAPIO_KILL;
	}
	if (colo_fleece_state(fl) != COLO_FLEECE_ACTIVE)
		return DM_MAPIO_KILL;
	if (bio_op(bio) == REQ_OP_DISCARD)
		io->chunk = colo_first_whole_chunk(io->sector, fl->chunk_shift);
	else
		io->chunk = colo_sector_to_chunk(io->sector, fl->chunk_shift);

	rcu_read_lock();
	cc = rcu_dereference(fl->cc);
	io->cc = cc;
	if (!cc) {
		rcu_read_unlock();
		return DM_MAPIO_KILL;
	}
	/*
	 * Counted under RCU: the colo destructor waits for us. Not cut when
	 * held (a discard may span chunks, and must not be cut): held bios
	 * run in the worker, which takes any length.
	 */
	entered = colo_enter(cc, bio, io, false);
	rcu_read_unlock();
	if (!entered)
		return DM_MAPIO_SUBMITTED;
	return colo_fleece_process(cc, bio, io, false);
}

/* Completion. Interrupt context. */
static int fleece_end_io(struct dm_target *ti, struct bio *bio,
			 blk_status_t *error)
{
	struct colo_fleece *fl = ti->private;
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc = io->cc;

	if (!cc)
		return DM_ENDIO_DONE;
	/* A read that raced a break may hold data written since: fail it. */
	if (!*error && bio_op(bio) == REQ_OP_READ &&
	    colo_fleece_state(fl) != COLO_FLEECE_ACTIVE)
		*error = BLK_STS_IOERR;
	/* read_once: its leaf was prepared, the chunk is held exclusive. */
	if (io->fleece_release && !*error)
		colo_fleece_release_chunk(fl, io->chunk, GFP_NOWAIT);
	if (io->holder.hold != COLO_HOLD_NONE)
		colo_lock_release(&cc->locks, &io->holder);
	if (io->counted_read)
		colo_lock_read_end(&cc->locks, io->chunk);
	if (io->counted)
		colo_exit(cc);
	return DM_ENDIO_DONE;
}

/*
 * Status (STATUSTYPE_INFO), one line:
 *
 *   <state> <needed> <saved> <released> <used>/<total>
 *
 * state     inactive (loaded, never resumed), active, or broken:<reason>
 *           with reason full, io-error, timeout, no-memory or detached
 * needed    chunks still part of the view: all of them, or the ones a
 *           "needed" message listed, but the released ones
 * saved     chunks whose content at the start is in the buffer
 * released  chunks released by a discard; a persistent fleece counts a
 *           release (here, in needed, saved and used) once its bit is
 *           committed, after a flush of the fleece at the latest
 * used/total  buffer chunks in use (saves in flight included) / in all
 */
static void fleece_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct colo_fleece *fl = ti->private;
	unsigned int sz = 0;
	int state = colo_fleece_state(fl);
	u64 released, used;
	bool timeout;

	switch (type) {
	case STATUSTYPE_INFO:
		released = atomic64_read(&fl->nr_released);
		spin_lock_irq(&fl->lock);
		used = fl->free.nr_used;
		spin_unlock_irq(&fl->lock);
		if (state == COLO_FLEECE_BROKEN)
			DMEMIT("broken:%s", colo_fleece_reason_name(fl->reason));
		else
			DMEMIT("%s", state == COLO_FLEECE_ACTIVE ? "active" :
			       "inactive");
		DMEMIT(" %llu %llu %llu %llu/%llu",
		       (unsigned long long)colo_fleece_nr_needed(fl),
		       (unsigned long long)atomic64_read(&fl->nr_saved),
		       (unsigned long long)released,
		       (unsigned long long)used,
		       (unsigned long long)fl->nr_slots);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s", fl->base->name, fl->buffer->name);
		timeout = fl->timeout_ms != COLO_FLEECE_DEFAULT_TIMEOUT_MS;
		if (timeout || fl->read_once || fl->persistent)
			DMEMIT(" %u", 2 * timeout + fl->read_once +
			       fl->persistent);
		if (timeout)
			DMEMIT(" timeout %u", fl->timeout_ms);
		if (fl->read_once)
			DMEMIT(" read_once");
		if (fl->persistent)
			DMEMIT(" %s", fl->reattach ? "reattach" : "persistent");
		break;
	default:
		result[0] = '\0';
		break;
	}
}

/*
 * needed all | needed <first>-<last>|<chunk>...: see
 * colo_fleece_restrict(). Every range is checked before anything changes.
 */
static int fleece_needed(struct colo_fleece *fl, unsigned int argc,
			 char **argv)
{
	u64 first, last;
	unsigned int i;
	int r;

	if (argc == 1 && !strcmp(argv[0], "all")) {
		/* Pairs with smp_store_release() in colo_fleece_restrict(). */
		if (!smp_load_acquire(&fl->restricted))
			return 0;
		DMERR("%s: needed all refused: the view was restricted, it cannot grow back",
		      fleece_name(fl));
		return -EINVAL;
	}
	for (i = 0; i < argc; i++) {
		if (colo_parse_range(argv[i], fl->nr_chunks, &first, &last)) {
			DMERR("%s: needed refused: '%s' is not %s",
			      fleece_name(fl), argv[i],
			      "<first>-<last> or <chunk> within the view");
			return -EINVAL;
		}
	}
	if (!argc) {
		DMERR("%s: needed refused: expected all or <first>-<last>|<chunk>...",
		      fleece_name(fl));
		return -EINVAL;
	}
	r = colo_fleece_restrict(fl, argc, argv);
	if (r)
		DMERR("%s: needed refused: no memory for the needed bitmap",
		      fleece_name(fl));
	return r;
}

static int fleece_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct colo_fleece *fl = ti->private;

	if (argc && !strcasecmp(argv[0], "needed"))
		return fleece_needed(fl, argc - 1, argv + 1);
	DMERR("%s: unknown message '%s'", fleece_name(fl),
	      argc ? argv[0] : "");
	return -EINVAL;
}

static int fleece_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct colo_fleece *fl = ti->private;
	int r;

	r = fn(ti, fl->base, 0, ti->len, data);
	if (!r)
		r = fn(ti, fl->buffer, 0,
		       colo_fleece_slot_sector(fl, fl->nr_slots), data);
	return r;
}

/* A discard releases whole chunks: one chunk is its unit. */
static void fleece_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct colo_fleece *fl = ti->private;

	colo_set_discard_limits(limits, 1U << fl->chunk_shift);
}

static struct target_type fleece_target = {
	.name = "colo-fleece",
	.version = {DM_COLO_VERSION_MAJOR, DM_COLO_VERSION_MINOR,
		    DM_COLO_VERSION_PATCH},
	.module = THIS_MODULE,
	.ctr = fleece_ctr,
	.dtr = fleece_dtr,
	.map = fleece_map,
	.end_io = fleece_end_io,
	.preresume = fleece_preresume,
	.status = fleece_status,
	.message = fleece_message,
	.iterate_devices = fleece_iterate_devices,
	.io_hints = fleece_io_hints,
};

int colo_fleece_register(void)
{
	return dm_register_target(&fleece_target);
}

void colo_fleece_unregister(void)
{
	dm_unregister_target(&fleece_target);
}
