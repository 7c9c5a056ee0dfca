// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: COLO block replication for the secondary host of a COLO pair.
 *
 * This file holds the module, the colo and colo-ingress target types,
 * their constructors and destructors, and the registry through which a
 * colo-ingress or colo-fleece target (dm-colo-fleece.c) finds the colo
 * target that shares its base device (as dm-snapshot's origin finds its
 * snapshots).
 */
#include <linux/blkdev.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/stringify.h>

#include "dm-colo.h"
#include "dm-colo-fleece.h"
#include "dm-colo-stack.h"

#define DM_MSG_PREFIX "colo"

/*
 * Every colo target, live or still being loaded. Lock order: the registry
 * lock is taken inside dm's table locks and nothing dm-colo holds is taken
 * inside it.
 */
static DEFINE_MUTEX(colo_registry_lock);
static LIST_HEAD(colo_registry);

static bool same_bdev(struct dm_dev *a, struct dm_dev *b)
{
	return a->bdev->bd_dev == b->bdev->bd_dev;
}

/*
 * A table loaded for @cc's mapped device and not resumed yet that will not
 * take @cc's state over (see check_reload()): @cc must not gain any.
 * Caller holds colo_registry_lock.
 */
static bool __fresh_reload_pending(struct colo_c *cc)
{
	struct colo_c *other;

	list_for_each_entry(other, &colo_registry, node) {
		if (other != cc && other->md == cc->md &&
		    !test_bit(COLO_LIVE, &other->flags) && !other->carry)
			return true;
	}
	return false;
}

bool colo_fresh_reload_pending(struct colo_c *cc)
{
	bool r;

	mutex_lock(&colo_registry_lock);
	r = __fresh_reload_pending(cc);
	mutex_unlock(&colo_registry_lock);
	return r;
}

/*
 * The live colo target on @base, or NULL: the one an ingress attaches to,
 * and the one a reload on the same base replaces. A base has one live
 * target at most (another device on it is refused). Caller holds
 * colo_registry_lock.
 */
static struct colo_c *__find_live_colo(struct dm_dev *base)
{
	struct colo_c *cc;

	list_for_each_entry(cc, &colo_registry, node) {
		if (same_bdev(cc->base, base) &&
		    test_bit(COLO_LIVE, &cc->flags))
			return cc;
	}
	return NULL;
}

/*
 * dm makes a reloaded table live before its first preresume takes the old
 * table's state over (do_resume(): dm_swap_table(), then dm_resume()), and
 * the swap waits for every status and message in progress on either table
 * (dm_sync_table()) before the resume can run: neither may wait for the
 * hand-over. Until its first resume a table is not COLO_LIVE, and:
 *  - its status shows the state it takes over: the live colo table's on
 *    the same base, if it carries (colo_status_source());
 *  - a message is refused with -EAGAIN (colo_msg_ready()): it could not
 *    know which table's state it changes. Userspace tries again.
 */

/*
 * Run @fn on the table whose state @cc's status shows. The old table is
 * neither carried nor destroyed meanwhile: both happen under
 * colo_registry_lock, held here; @fn takes no dm-colo lock.
 */
void colo_status_source(struct colo_c *cc, void (*fn)(struct colo_c *src,
						      void *arg), void *arg)
{
	struct colo_c *old = NULL;

	/* Pairs with the barrier before set_bit(COLO_LIVE) in preresume. */
	if (!cc->carry || test_bit_acquire(COLO_LIVE, &cc->flags)) {
		fn(cc, arg);
		return;
	}
	mutex_lock(&colo_registry_lock);
	if (!test_bit(COLO_LIVE, &cc->flags))
		old = __find_live_colo(cc->base);
	fn(old && old->md == cc->md ? old : cc, arg);
	mutex_unlock(&colo_registry_lock);
}

/* May a message change @cc's state? Logs why not. */
int colo_msg_ready(struct colo_c *cc)
{
	if (test_bit_acquire(COLO_LIVE, &cc->flags))
		return 0;
	DMERR("%s: message refused: the table is not resumed yet (a reload in progress): try again",
	      colo_name(cc));
	return -EAGAIN;
}

/* For the status line: no lock, as colo_status_source() may hold one. */
bool colo_has_ingress(struct colo_c *cc)
{
	return READ_ONCE(cc->ingress);
}

/* The colo target: constructor helpers, one per device or check. */
static int get_colo_device(struct dm_target *ti, const char *path,
			   struct dm_dev **dev, const char *role,
			   char *open_error, char *size_error)
{
	int r;

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), dev);
	if (r) {
		ti->error = open_error;
		return r;
	}
	if (bdev_nr_sectors((*dev)->bdev) < ti->len) {
		DMERR("%s: %s device %.256s has %llu sectors, the target needs %llu",
		      dm_device_name(dm_table_get_md(ti->table)), role, path,
		      (unsigned long long)bdev_nr_sectors((*dev)->bdev),
		      (unsigned long long)ti->len);
		ti->error = size_error;
		dm_put_device(ti, *dev);
		*dev = NULL;
		return -EINVAL;
	}
	return 0;
}

static int check_block_size(struct dm_target *ti, struct colo_c *cc,
			    struct dm_dev *dev)
{
	unsigned int lbs = bdev_logical_block_size(dev->bdev);

	if ((SECTOR_SIZE << cc->chunk_shift) < lbs) {
		DMERR("%s: %s: chunk of %u bytes is smaller than the logical block size %u",
		      colo_name(cc), dev->name, SECTOR_SIZE << cc->chunk_shift,
		      lbs);
		ti->error = "Chunk size smaller than a device's logical block size";
		return -EINVAL;
	}
	return 0;
}

/* Is @dev one of @cc's legs or its metadata device? */
static bool colo_uses(struct colo_c *cc, struct dm_dev *dev)
{
	return same_bdev(cc->base, dev) ||
	       (cc->hidden && same_bdev(cc->hidden, dev)) ||
	       (cc->active && same_bdev(cc->active, dev)) ||
	       (cc->meta_dev && same_bdev(cc->meta_dev, dev));
}

static int check_devices(struct dm_target *ti, struct colo_c *cc)
{
	if (cc->meta_dev &&
	    (same_bdev(cc->base, cc->meta_dev) ||
	     (cc->hidden && (same_bdev(cc->hidden, cc->meta_dev) ||
			     same_bdev(cc->active, cc->meta_dev))))) {
		ti->error = "The metadata device must not be a leg";
		return -EINVAL;
	}
	if (cc->mode == COLO_MODE_SECONDARY) {
		if (same_bdev(cc->base, cc->hidden) ||
		    same_bdev(cc->base, cc->active) ||
		    same_bdev(cc->hidden, cc->active)) {
			ti->error = "Base, hidden and active must be different devices";
			return -EINVAL;
		}
		if (check_block_size(ti, cc, cc->hidden) ||
		    check_block_size(ti, cc, cc->active))
			return -EINVAL;
	}
	return check_block_size(ti, cc, cc->base);
}

/*
 * @cc holds nothing a reload could lose: no overlay, no unfinished commit,
 * no dirty chunk, no mirror, no ingress. Caller holds colo_registry_lock.
 */
static bool __colo_state_empty(struct colo_c *cc)
{
	return !colo_bitmap_count(&cc->active_map) &&
	       !colo_bitmap_count(&cc->hidden_map) &&
	       !colo_bitmap_count(&cc->dirty_map) &&
	       !colo_commit_busy(cc) &&
	       colo_mirror_state(cc) == COLO_MIRROR_NONE && !cc->ingress &&
	       !rcu_access_pointer(cc->fleece);
}

/* Do @a and @b keep their state on the same metadata device (or none)? */
static bool same_metadata(struct colo_c *a, struct colo_c *b)
{
	if (!a->meta_dev || !b->meta_dev)
		return !a->meta_dev && !b->meta_dev;
	return same_bdev(a->meta_dev, b->meta_dev) &&
	       a->region_shift == b->region_shift;
}

/*
 * The reload rules (README "Reload"): a new table @cc for the mapped device
 * whose live table has @old on the same base. When the new table can hold
 * the old one's state it takes it over at its first resume (carry_state()):
 * the same chunk size and length and, while the overlay may still be read
 * (secondary mode, an unfinished commit), the same hidden and active legs.
 * These conditions cannot change before the resume: the overlay is used
 * again only by a failover, which needs secondary mode, where it is used
 * already. Any other reload starts from nothing, so it is accepted only
 * while @old is suspended and holds nothing, and @old then refuses what
 * would give it state (a failover, a mirror, an ingress) until the new
 * table is resumed or cleared: its state could not be refused later,
 * since a failing resume still destroys the old table.
 */
static int check_reload(struct dm_target *ti, struct colo_c *old,
			struct colo_c *cc)
{
	bool overlay_used = READ_ONCE(old->mode) == COLO_MODE_SECONDARY ||
			    colo_commit_busy(old);
	bool same_legs = cc->hidden && old->hidden &&
			 same_bdev(cc->hidden, old->hidden) &&
			 same_bdev(cc->active, old->active);

	if (cc->chunk_shift == old->chunk_shift &&
	    cc->ti->len == old->ti->len && (!overlay_used || same_legs) &&
	    same_metadata(old, cc)) {
		cc->carry = true;
		return 0;
	}
	if (!test_bit(COLO_SUSPENDED, &old->flags) ||
	    !__colo_state_empty(old)) {
		ti->error = "Changing geometry, legs or metadata needs a suspended, empty device";
		return -EBUSY;
	}
	/* @old's metadata stops following base: a view it names is lost. */
	if (colo_meta_fleece(old))
		colo_meta_set_fleece(old, 0);
	return 0;
}

/*
 * Put @cc on the registry. A reload of the same mapped device registers a
 * second instance beside the live one (check_reload()); another device on
 * the same base is refused, and so is a second colo target on the same
 * base in one table (an ingress would serve only one of them).
 */
static int register_colo(struct dm_target *ti, struct colo_c *cc)
{
	struct colo_c *other, *old;
	int r = 0;

	mutex_lock(&colo_registry_lock);
	list_for_each_entry(other, &colo_registry, node) {
		if (cc->meta_dev && other->md != cc->md &&
		    colo_uses(other, cc->meta_dev)) {
			ti->error = "Metadata device already used by another colo device";
			r = -EBUSY;
			break;
		}
		if (!same_bdev(other->base, cc->base))
			continue;
		if (other->md != cc->md) {
			ti->error = "Base device already used by another colo device";
			r = -EBUSY;
			break;
		}
		if (other->ti->table == ti->table) {
			ti->error = "Base device used by two colo targets of the table";
			r = -EBUSY;
			break;
		}
	}
	/* @cc is not on the registry yet. */
	old = r ? NULL : __find_live_colo(cc->base);
	if (old)
		r = check_reload(ti, old, cc);
	if (!r)
		list_add(&cc->node, &colo_registry);
	mutex_unlock(&colo_registry_lock);
	return r;
}

/*
 * The fleece goes with the state; the data path finds it under RCU.
 * Caller holds colo_registry_lock.
 */
static void __carry_fleece(struct colo_c *old, struct colo_c *cc)
{
	struct colo_fleece *fl;

	fl = rcu_dereference_protected(old->fleece,
				       lockdep_is_held(&colo_registry_lock));
	if (!fl)
		return;
	if (test_bit(COLO_BASE_WRITTEN, &old->flags))
		set_bit(COLO_BASE_WRITTEN, &cc->flags);
	RCU_INIT_POINTER(old->fleece, NULL);
	rcu_assign_pointer(cc->fleece, fl);
	rcu_assign_pointer(fl->cc, cc);
}

/*
 * Hand @old's state to @cc, the table that replaces it, at @cc's first
 * resume. @old is suspended: no bio or copy of it is in flight. The
 * ingress is switched last, with everything it reads published before
 * (rcu_assign_pointer()). Caller holds colo_registry_lock.
 */
static void __carry_state(struct colo_c *old, struct colo_c *cc)
{
	/* Work a message queued on the suspended table (a reclaim, an event). */
	cancel_delayed_work_sync(&old->commit_work);
	cancel_delayed_work_sync(&old->mirror_work);
	cancel_delayed_work_sync(&old->reclaim_work);
	cancel_delayed_work_sync(&old->verify.work);
	flush_workqueue(old->wq);

	cc->mode = old->mode;
	if (test_bit(COLO_ERROR, &old->flags))
		set_bit(COLO_ERROR, &cc->flags);
	if (test_bit(COLO_FENCED, &old->flags))
		set_bit(COLO_FENCED, &cc->flags);
	colo_bitmap_swap(&old->active_map, &cc->active_map);
	colo_bitmap_swap(&old->hidden_map, &cc->hidden_map);
	colo_bitmap_swap(&old->dirty_map, &cc->dirty_map);
	colo_commit_carry(old, cc);
	colo_mirror_carry(old, cc);
	colo_verify_carry(old, cc);
	colo_meta_carry(old, cc);

	if (old->ingress) {
		cc->ingress = old->ingress;
		old->ingress = NULL;
		rcu_assign_pointer(cc->ingress->cc, cc);
	}
	__carry_fleece(old, cc);
}

/*
 * Take @cc off the registry. An ingress can still be attached only if the
 * colo table is being replaced by one of another type; it is detached and
 * fails its I/O from then on.
 */
static void unregister_colo(struct colo_c *cc)
{
	struct colo_fleece *fl;
	bool detached = false;

	mutex_lock(&colo_registry_lock);
	list_del(&cc->node);
	fl = rcu_dereference_protected(cc->fleece,
				       lockdep_is_held(&colo_registry_lock));
	if (fl) {
		DMWARN("%s: colo table replaced, its colo-fleece is detached",
		       colo_name(cc));
		colo_fleece_break(fl, COLO_FLEECE_DETACHED);
		RCU_INIT_POINTER(fl->cc, NULL);
		RCU_INIT_POINTER(cc->fleece, NULL);
		detached = true;
	}
	if (cc->ingress) {
		DMWARN("%s: colo table replaced, its colo-ingress is detached",
		       colo_name(cc));
		RCU_INIT_POINTER(cc->ingress->cc, NULL);
		cc->ingress = NULL;
		detached = true;
	}
	mutex_unlock(&colo_registry_lock);

	/* Ingress bios that found @cc are counted in its inflight now. */
	if (detached)
		synchronize_rcu();
	/* Nothing of @cc uses the fleece any more. */
	if (fl)
		colo_fleece_wait_idle(fl);
}

static void put_colo_devices(struct dm_target *ti, struct colo_c *cc)
{
	if (cc->meta_dev)
		dm_put_device(ti, cc->meta_dev);
	if (cc->active)
		dm_put_device(ti, cc->active);
	if (cc->hidden)
		dm_put_device(ti, cc->hidden);
	if (cc->base)
		dm_put_device(ti, cc->base);
}

static int get_colo_devices(struct dm_target *ti, struct colo_c *cc,
			    struct colo_table_args *args)
{
	int r;

	r = get_colo_device(ti, args->base_path, &cc->base, "base",
			    "Error opening base device",
			    "Base device is smaller than the target");
	if (r)
		return r;
	if (args->metadata_path) {
		r = dm_get_device(ti, args->metadata_path,
				  dm_table_get_mode(ti->table), &cc->meta_dev);
		if (r) {
			ti->error = "Error opening metadata device";
			return r;
		}
	}
	if (cc->mode == COLO_MODE_PRIMARY)
		return 0;

	r = get_colo_device(ti, args->hidden_path, &cc->hidden, "hidden",
			    "Error opening hidden device",
			    "Hidden device is smaller than the target");
	if (r)
		return r;
	return get_colo_device(ti, args->active_path, &cc->active, "active",
			       "Error opening active device",
			       "Active device is smaller than the target");
}

/*
 * colo secondary <base> <hidden> <active> <chunk_sectors> [<#opt> <opt>...]
 * colo primary   <base> <chunk_sectors> [<#opt> <opt>...]
 *
 * Optional arguments:
 *   max_copies <n>         copies in flight at once (1..1024, default 64)
 *   metadata <dev>         keep the state on @dev (dm-colo-meta.c)
 *   region_size <sectors>  write-intent region (default 8192, 4 MiB)
 */
static int colo_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct colo_table_args args;
	struct colo_c *cc;
	int r;

	r = colo_parse_table(argc, argv, &args, &ti->error);
	if (r)
		return r;

	cc = kzalloc(sizeof(*cc), GFP_KERNEL);
	if (!cc) {
		ti->error = "Cannot allocate colo context";
		return -ENOMEM;
	}
	cc->ti = ti;
	cc->md = dm_table_get_md(ti->table);
	cc->mode = args.mode;
	cc->chunk_shift = args.chunk_shift;
	cc->nr_chunks = colo_nr_chunks(ti->len, cc->chunk_shift);
	cc->max_copies = args.max_copies;
	cc->region_shift = args.region_shift;
	INIT_LIST_HEAD(&cc->node);
	/* Like a suspended table until its first resume (colo_resume()). */
	cc->flags = BIT(COLO_SUSPENDED) | BIT(COLO_HOLD_INGRESS);

	r = get_colo_devices(ti, cc, &args);
	if (r)
		goto bad_devices;

	r = check_devices(ti, cc);
	if (r)
		goto bad_devices;

	r = colo_io_init(cc);
	if (r) {
		ti->error = "Cannot allocate the chunk bitmaps and workers";
		goto bad_devices;
	}

	r = register_colo(ti, cc);
	if (r)
		goto bad_register;

	/* A table that takes a live one's state over only checks it here. */
	if (cc->meta_dev) {
		r = colo_meta_open(cc, cc->meta_dev, cc->region_shift,
				   !cc->carry, &ti->error);
		if (r)
			goto bad_meta;
	}

	/* Flushes reach every leg: base, hidden, active, replica (remap_flush). */
	ti->num_flush_bios = cc->mode == COLO_MODE_SECONDARY ? 4 : 2;
	ti->per_io_data_size = sizeof(struct colo_io);
	ti->accounts_remapped_io = true;
	ti->private = cc;
	return 0;

bad_meta:
	unregister_colo(cc);
bad_register:
	colo_io_destroy(cc);
bad_devices:
	put_colo_devices(ti, cc);
	kfree(cc);
	return r;
}

static void colo_dtr(struct dm_target *ti)
{
	struct colo_c *cc = ti->private;

	unregister_colo(cc);
	colo_quiesce(cc);
	/* Until the last colo_exit() has left @cc (it wakes us, then returns). */
	synchronize_rcu();
	colo_fail_held(cc);
	colo_meta_close(cc);
	colo_io_destroy(cc);
	put_colo_devices(ti, cc);
	kfree(cc);
}

/*
 * Suspend: dm drains the VM's bios itself; new ingress bios are held from
 * presuspend on, and postsuspend waits for the ones in flight with their
 * copies and for the worker, so no copy lands on a suspended device.
 */
static void colo_presuspend(struct dm_target *ti)
{
	struct colo_c *cc = ti->private;

	/* Stops the failover commit from starting copies (commit_worker). */
	set_bit(COLO_SUSPENDED, &cc->flags);
	colo_hold_ingress(cc);
}

static void colo_presuspend_undo(struct dm_target *ti)
{
	struct colo_c *cc = ti->private;

	colo_release_hold(cc, COLO_HOLD_INGRESS);
	clear_bit(COLO_SUSPENDED, &cc->flags);
	colo_commit_kick(cc);
	colo_mirror_kick(cc);
	colo_verify_kick(cc);
}

static void colo_postsuspend(struct dm_target *ti)
{
	struct colo_c *cc = ti->private;

	/* COLO_SUSPENDED is set: each gives up a chunk it waits for. */
	colo_commit_stop(cc);
	colo_mirror_pause(cc);
	/* The verify pauses; resume goes on with it. */
	colo_verify_pause(cc);
	cancel_delayed_work_sync(&cc->commit_work);
	cancel_delayed_work_sync(&cc->mirror_work);
	colo_quiesce(cc);
	/* A pending reclaim runs now: a suspended table keeps no stale leaf. */
	flush_delayed_work(&cc->reclaim_work);
	flush_workqueue(cc->wq);
	colo_meta_suspend(cc);
}

/*
 * The first resume of a table: if it replaces a live colo table on the same
 * base, that table's state and ingress pass to it now, when the old one is
 * suspended and about to be destroyed (LESSONS.md #11: messages, failovers
 * and ingress attaches reached the old table until the swap).
 */
static int colo_preresume(struct dm_target *ti)
{
	struct colo_c *cc = ti->private;
	struct colo_c *old;

	if (test_bit(COLO_LIVE, &cc->flags))
		return 0;

	mutex_lock(&colo_registry_lock);
	/* @cc is not live yet: the live one on its base is the old table. */
	old = __find_live_colo(cc->base);
	if (old && cc->carry)
		__carry_state(old, cc);
	else if (old && !__colo_state_empty(old))
		DMERR("%s: the replaced table's state is lost", colo_name(cc));
	if (old)
		clear_bit(COLO_LIVE, &old->flags);
	/* The carried state before COLO_LIVE: pairs with test_bit_acquire(). */
	smp_mb__before_atomic();
	set_bit(COLO_LIVE, &cc->flags);
	mutex_unlock(&colo_registry_lock);

	if (old && cc->carry) {
		/* Ingress bios that found @old are on its held list now. */
		synchronize_rcu();
		colo_move_held(old, cc);
		DMINFO("%s: reload: %s state carried over to the new table",
		       colo_name(cc), colo_mode_name(cc->mode));
	}
	return 0;
}

static void colo_resume(struct dm_target *ti)
{
	struct colo_c *cc = ti->private;

	set_bit(COLO_LIVE, &cc->flags);
	clear_bit(COLO_SUSPENDED, &cc->flags);
	colo_release_hold(cc, COLO_HOLD_INGRESS);
	colo_meta_resume(cc);
	colo_commit_kick(cc);
	colo_mirror_kick(cc);
	colo_verify_kick(cc);
}

static int colo_iterate_devices(struct dm_target *ti,
				iterate_devices_callout_fn fn, void *data)
{
	struct colo_c *cc = ti->private;
	int r;

	r = fn(ti, cc->base, 0, ti->len, data);
	if (!r && cc->hidden)
		r = fn(ti, cc->hidden, 0, ti->len, data);
	if (!r && cc->active)
		r = fn(ti, cc->active, 0, ti->len, data);
	return r;
}

static struct target_type colo_target = {
	.name = "colo",
	.version = {DM_COLO_VERSION_MAJOR, DM_COLO_VERSION_MINOR,
		    DM_COLO_VERSION_PATCH},
	.module = THIS_MODULE,
	.ctr = colo_ctr,
	.dtr = colo_dtr,
	.map = colo_map,
	.end_io = colo_end_io,
	.presuspend = colo_presuspend,
	.presuspend_undo = colo_presuspend_undo,
	.postsuspend = colo_postsuspend,
	.preresume = colo_preresume,
	.resume = colo_resume,
	.status = colo_status,
	.message = colo_message,
	.iterate_devices = colo_iterate_devices,
};

/* The colo-ingress target. */

/*
 * Hold the colo device open, so that dm refuses to remove it (-EBUSY),
 * without claiming it: the VM's device stays free for an exclusive open
 * (mkfs, mount, a VM manager), and can be claimed already (LESSONS.md #12).
 */
static int pin_colo_device(struct colo_ingress *ic, struct colo_c *cc)
{
	return colo_bdev_open_unclaimed(disk_devt(dm_disk(cc->md)),
					&ic->colo_pin);
}

/* Caller holds colo_registry_lock. */
static int __attach_ingress(struct dm_target *ti, struct colo_ingress *ic)
{
	struct colo_c *cc;
	int r;

	cc = __find_live_colo(ic->base);
	if (!cc) {
		ti->error = "No active colo device uses this base device";
		return -ENODEV;
	}
	if (cc->ingress) {
		ti->error = "The colo device already has a colo-ingress";
		return -EBUSY;
	}
	if (__fresh_reload_pending(cc)) {
		ti->error = "The colo device waits for a fresh table: resume or clear it";
		return -EBUSY;
	}
	if (cc->mode != COLO_MODE_SECONDARY) {
		ti->error = "The colo device is not in secondary mode";
		return -EINVAL;
	}
	if (ti->len > cc->ti->len) {
		ti->error = "Ingress is longer than the colo device";
		return -EINVAL;
	}
	r = pin_colo_device(ic, cc);
	if (r) {
		ti->error = "Cannot open the colo device";
		return r;
	}
	rcu_assign_pointer(ic->cc, cc);
	ic->colo_md = cc->md;
	cc->ingress = ic;
	return 0;
}

/* Undo __attach_ingress(). */
static void detach_ingress(struct colo_ingress *ic)
{
	struct colo_c *cc;

	mutex_lock(&colo_registry_lock);
	cc = rcu_dereference_protected(ic->cc,
				       lockdep_is_held(&colo_registry_lock));
	if (cc)
		cc->ingress = NULL;
	RCU_INIT_POINTER(ic->cc, NULL);
	mutex_unlock(&colo_registry_lock);
	colo_bdev_close(&ic->colo_pin);
}

/* colo-ingress <base> */
static int ingress_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct colo_ingress *ic;
	int r;

	if (argc != 1) {
		ti->error = "Invalid argument count: colo-ingress <base>";
		return -EINVAL;
	}

	ic = kzalloc(sizeof(*ic), GFP_KERNEL);
	if (!ic) {
		ti->error = "Cannot allocate colo-ingress context";
		return -ENOMEM;
	}
	ic->ti = ti;

	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &ic->base);
	if (r) {
		ti->error = "Error opening base device";
		goto bad_base;
	}

	mutex_lock(&colo_registry_lock);
	r = __attach_ingress(ti, ic);
	mutex_unlock(&colo_registry_lock);
	if (r)
		goto bad_attach;

	/* Bios over several chunks: see colo_ingress_map(). */
	/* Flushes reach base and hidden (dm_bio_get_target_bio_nr). */
	ti->num_flush_bios = 2;
	ti->per_io_data_size = sizeof(struct colo_io);
	ti->accounts_remapped_io = true;
	ti->private = ic;
	return 0;

bad_attach:
	dm_put_device(ti, ic->base);
bad_base:
	kfree(ic);
	return r;
}

static void ingress_dtr(struct dm_target *ti)
{
	struct colo_ingress *ic = ti->private;

	detach_ingress(ic);
	dm_put_device(ti, ic->base);
	kfree(ic);
}

static int ingress_map(struct dm_target *ti, struct bio *bio)
{
	return colo_ingress_map(ti->private, bio);
}

/*
 * Status of colo-ingress: the name of its colo device, or "detached" when
 * the colo table it belonged to was replaced.
 */
static void ingress_status(struct dm_target *ti, status_type_t type,
			   unsigned int status_flags, char *result,
			   unsigned int maxlen)
{
	struct colo_ingress *ic = ti->private;
	char name[DM_NAME_LEN];
	unsigned int sz = 0;
	bool attached;

	switch (type) {
	case STATUSTYPE_INFO:
		mutex_lock(&colo_registry_lock);
		attached = rcu_access_pointer(ic->cc);
		mutex_unlock(&colo_registry_lock);
		/* colo_md stays valid: colo_pin holds it open. */
		if (!attached || dm_copy_name_and_uuid(ic->colo_md, name, NULL))
			strscpy(name, "detached", sizeof(name));
		DMEMIT("%s", name);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s", ic->base->name);
		break;
	default:
		result[0] = '\0';
		break;
	}
}

static int ingress_iterate_devices(struct dm_target *ti,
				   iterate_devices_callout_fn fn, void *data)
{
	struct colo_ingress *ic = ti->private;

	return fn(ti, ic->base, 0, ti->len, data);
}

static struct target_type ingress_target = {
	.name = "colo-ingress",
	.version = {DM_COLO_VERSION_MAJOR, DM_COLO_VERSION_MINOR,
		    DM_COLO_VERSION_PATCH},
	.module = THIS_MODULE,
	.ctr = ingress_ctr,
	.dtr = ingress_dtr,
	.map = ingress_map,
	.end_io = colo_end_io,
	.status = ingress_status,
	.iterate_devices = ingress_iterate_devices,
};

/* The colo-fleece target's attachment (dm-colo-fleece.c). */

/*
 * Find the live colo device on @fl's base, check @fl against it, set @fl's
 * geometry and state up, and attach it. Caller holds colo_registry_lock.
 */
static int __attach_fleece(struct dm_target *ti, struct colo_fleece *fl)
{
	struct colo_c *cc;
	int r;

	cc = __find_live_colo(fl->base);
	if (!cc) {
		ti->error = "No active colo device uses this base device";
		return -ENODEV;
	}
	if (rcu_access_pointer(cc->fleece)) {
		ti->error = "The colo device already has a colo-fleece";
		return -EBUSY;
	}
	if (__fresh_reload_pending(cc)) {
		ti->error = "The colo device waits for a fresh table: resume or clear it";
		return -EBUSY;
	}
	if (ti->len > cc->ti->len) {
		ti->error = "Fleece is longer than the colo device";
		return -EINVAL;
	}
	if (colo_uses(cc, fl->buffer)) {
		ti->error = "The buffer is a leg or the metadata device of the colo device";
		return -EINVAL;
	}
	fl->chunk_shift = cc->chunk_shift;
	fl->nr_chunks = colo_nr_chunks(ti->len, fl->chunk_shift);
	fl->nr_slots = min_t(u64, bdev_nr_sectors(fl->buffer->bdev) >>
			     fl->chunk_shift, fl->nr_chunks);
	if (fl->persistent) {
		r = colo_fleece_map_layout(fl, cc, &ti->error);
		if (r)
			return r;
	}
	if (!fl->nr_slots) {
		ti->error = "Buffer device is smaller than one chunk";
		return -EINVAL;
	}
	if (bdev_logical_block_size(fl->buffer->bdev) >
	    (SECTOR_SIZE << fl->chunk_shift)) {
		ti->error = "Chunk size smaller than the buffer's logical block size";
		return -EINVAL;
	}

	r = colo_bdev_open_unclaimed(disk_devt(dm_disk(cc->md)),
				     &fl->colo_pin);
	if (r) {
		ti->error = "Cannot open the colo device";
		return r;
	}
	/* A buffer stacked on the colo device would save into itself. */
	r = colo_stack_contains(fl->buffer->bdev,
				colo_bdev_handle_bdev(&fl->colo_pin));
	if (r) {
		ti->error = r > 0 ? "The buffer is stacked on the colo device" :
			    "Cannot read the buffer's device stack";
		r = r > 0 ? -EINVAL : r;
		goto bad;
	}
	r = colo_fleece_init(fl);
	if (r) {
		ti->error = "Cannot allocate the fleece's map and copier";
		goto bad;
	}
	fl->colo_md = cc->md;
	rcu_assign_pointer(fl->cc, cc);
	rcu_assign_pointer(cc->fleece, fl);
	return 0;

bad:
	colo_bdev_close(&fl->colo_pin);
	return r;
}

int colo_fleece_attach(struct dm_target *ti, struct colo_fleece *fl)
{
	int r;

	mutex_lock(&colo_registry_lock);
	r = __attach_fleece(ti, fl);
	mutex_unlock(&colo_registry_lock);
	return r;
}

/* Undo colo_fleece_attach(): nothing on the colo side uses @fl after. */
void colo_fleece_detach(struct colo_fleece *fl)
{
	struct colo_c *cc;

	mutex_lock(&colo_registry_lock);
	cc = rcu_dereference_protected(fl->cc,
				       lockdep_is_held(&colo_registry_lock));
	if (cc)
		RCU_INIT_POINTER(cc->fleece, NULL);
	RCU_INIT_POINTER(fl->cc, NULL);
	mutex_unlock(&colo_registry_lock);
	synchronize_rcu();
	colo_fleece_wait_idle(fl);
	colo_bdev_close(&fl->colo_pin);
}

/*
 * Lock the colo device @fl is attached to against messages (its msg_lock,
 * which a hold and drain needs) and against a reload's hand-over (the
 * registry lock, so that it stays alive and attached). A message may take
 * the registry lock under msg_lock: the latter is only tried here. On
 * success both are held; on error neither.
 */
static struct colo_c *lock_fleece_colo(struct colo_fleece *fl)
{
	struct colo_c *cc;

	for (;;) {
		mutex_lock(&colo_registry_lock);
		cc = rcu_dereference_protected(fl->cc,
					       lockdep_is_held(&colo_registry_lock));
		if (!cc) {
			mutex_unlock(&colo_registry_lock);
			return ERR_PTR(-ENODEV);
		}
		if (mutex_trylock(&cc->msg_lock))
			return cc;
		mutex_unlock(&colo_registry_lock);
		if (signal_pending(current))
			return ERR_PTR(-EINTR);
		schedule_timeout_interruptible(1);
	}
}

/*
 * Start the view (the fleece's first resume): with the colo device's I/O
 * held and drained, no write to base is half way past the save hook, and
 * every later one sees the fleece active. On a secondary, base is the
 * primary's disk at a checkpoint only until the next ingress write: a
 * start after one is refused. While a failover commit runs, its copies
 * (not held) could race the start: refused too.
 */
int colo_fleece_activate(struct colo_fleece *fl)
{
	const char *name = dm_device_name(dm_table_get_md(fl->ti->table));
	struct colo_c *cc;
	int r;

	cc = lock_fleece_colo(fl);
	if (IS_ERR(cc)) {
		DMERR("%s: cannot start: %s", name, PTR_ERR(cc) == -ENODEV ?
		      "its colo device went away" : "interrupted");
		return PTR_ERR(cc);
	}
	r = colo_hold_and_drain(cc);
	if (r) {
		DMERR("%s: cannot start: interrupted", name);
		goto out;
	}
	if (READ_ONCE(cc->commit_state) == COLO_COMMIT_RUNNING) {
		DMERR("%s: cannot start: the failover commit of %s runs; %s",
		      name, colo_name(cc), "resume it when the commit is done");
		r = -EBUSY;
	} else if (fl->reattach) {
		/* Base not written without it since (dm-colo-save.c). */
		if (colo_meta_fleece(cc) != fl->instance) {
			DMERR("%s: cannot re-attach: base was written without it since",
			      name);
			r = -ESTALE;
		}
	} else if (READ_ONCE(cc->mode) == COLO_MODE_SECONDARY &&
		   test_bit(COLO_BASE_WRITTEN, &cc->flags)) {
		DMERR("%s: cannot start: %s; resume it right after a checkpoint",
		      name, "the ingress wrote base since the last checkpoint");
		r = -EBUSY;
	} else if (fl->persistent &&
		   colo_meta_set_fleece(cc, fl->instance)) {
		/* Its view is named in the metadata before it starts. */
		DMERR("%s: cannot start: the metadata of %s cannot be written",
		      name, colo_name(cc));
		r = -EIO;
	}
	if (!r) {
		atomic_set_release(&fl->state, COLO_FLEECE_ACTIVE);
		DMINFO("%s: fleece of %s %s (%s mode)", name,
		       colo_name(cc), fl->reattach ? "re-attached" : "started",
		       colo_mode_name(READ_ONCE(cc->mode)));
	}
	colo_release_hold(cc, COLO_HOLD_ALL);
out:
	mutex_unlock(&cc->msg_lock);
	mutex_unlock(&colo_registry_lock);
	return r;
}

/* Module. */
static int __init dm_colo_init(void)
{
	int r;

	r = dm_register_target(&colo_target);
	if (r) {
		DMERR("register of colo target failed: %d", r);
		return r;
	}
	r = dm_register_target(&ingress_target);
	if (r) {
		DMERR("register of colo-ingress target failed: %d", r);
		goto bad_ingress;
	}
	r = colo_fleece_register();
	if (r) {
		DMERR("register of colo-fleece target failed: %d", r);
		goto bad_fleece;
	}
	return 0;

bad_fleece:
	dm_unregister_target(&ingress_target);
bad_ingress:
	dm_unregister_target(&colo_target);
	return r;
}

static void __exit dm_colo_exit(void)
{
	colo_fleece_unregister();
	dm_unregister_target(&ingress_target);
	dm_unregister_target(&colo_target);
}

module_init(dm_colo_init);
module_exit(dm_colo_exit);

MODULE_DESCRIPTION(DM_NAME " COLO block replication target");
MODULE_AUTHOR("dm-colo developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(__stringify(DM_COLO_VERSION_MAJOR) "."
	       __stringify(DM_COLO_VERSION_MINOR) "."
	       __stringify(DM_COLO_VERSION_PATCH));
