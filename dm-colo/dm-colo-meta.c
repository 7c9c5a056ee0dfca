// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the metadata device. See dm-colo-meta.h for what is written
 * when and the locking contract, and dm-colo-format.h for the layout.
 *
 * Blocks go through dm-bufio. A block is built in memory and sealed, then
 * written to the slot that does not hold its newest copy; a superblock is
 * written only after everything it names was flushed. The bufio client may
 * write a dirty buffer early, so a block is only made dirty once whatever
 * must reach the disk before it has (the commit's progress: base flushed
 * before the maps that say a chunk left the commit).
 */
#include <linux/blkdev.h>
#include <linux/dm-bufio.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dm-colo-meta-internal.h"

#define DM_MSG_PREFIX "colo"

static void *kvzalloc_bits(u64 nr)
{
	return kvcalloc(BITS_TO_LONGS(nr), sizeof(unsigned long), GFP_KERNEL);
}

/* I/O. */

/*
 * A metadata write failed: from now on nothing is written, and nothing
 * waits for a mark (the waiting writes go). The state in memory stays
 * right; only what a crash would keep is lost. io_lock held.
 */
void colo_meta_fail(struct colo_meta *m, const char *what, int r)
{
	if (test_and_set_bit(META_FAILED, &m->flags))
		return;
	DMERR("%s: metadata %s failed (%d): state is no longer crash-safe",
	      colo_name(m->cc), what, r);
	colo_error(m->cc);
}

/*
 * Write every block made dirty and wait for them: dm_bufio_write_dirty_
 * buffers() ends with a flush of the device, so they are durable. With
 * nothing queued since the last write-out there is nothing to write or
 * flush. io_lock held.
 */
int colo_meta_write_out(struct colo_meta *m, const char *what)
{
	int r;

	if (meta_failed(m))
		return -EIO;
	if (!m->queued)
		return 0;
	m->queued = false;
	r = dm_bufio_write_dirty_buffers(m->bufio);
	if (r)
		colo_meta_fail(m, what, r);
	return r;
}

/*
 * Queue a write of logical block @l from @data (a whole block whose
 * header is filled in here) to the slot not holding its newest copy.
 */
static void put_block(struct colo_meta *m, u64 l, enum colo_meta_kind kind,
		      u64 generation, const void *data)
{
	u64 seq = m->seq[l] + 1;
	struct dm_buffer *b;
	void *p;

	p = dm_bufio_new(m->bufio, 2 * l + (seq & 1), &b);
	if (IS_ERR(p)) {
		colo_meta_fail(m, "buffer allocation", PTR_ERR(p));
		return;
	}
	memcpy(p, data, COLO_META_BLOCK_SIZE);
	colo_meta_seal(p, kind, l, m->instance, seq, generation);
	dm_bufio_mark_buffer_dirty(b);
	dm_bufio_release(b);
	m->seq[l] = seq;
	m->queued = true;
}

/*
 * Read logical block @l into @out: the newest valid copy. A map block of
 * another generation than @generation reads as never written. Returns 0,
 * -ENODATA (never written) or -EILSEQ (no valid copy), or an I/O error.
 */
static int get_block(struct colo_meta *m, u64 l, enum colo_meta_kind kind,
		     u64 generation, void *out)
{
	struct colo_meta_header *h;
	struct dm_buffer *b[2];
	void *p[2];
	int check[2], pick, i, r = 0;

	for (i = 0; i < 2; i++) {
		p[i] = dm_bufio_read(m->bufio, 2 * l + i, &b[i]);
		if (IS_ERR(p[i])) {
			r = PTR_ERR(p[i]);
			if (i)
				dm_bufio_release(b[0]);
			return r;
		}
		check[i] = colo_meta_check_slot(p[i], kind, l, m->instance);
		h = p[i];
		if (!check[i] && (kind == COLO_META_ACTIVE ||
				  kind == COLO_META_HIDDEN) &&
		    le64_to_cpu(h->generation) != generation)
			check[i] = -ENODATA;
	}
	pick = colo_meta_pick(p[0], check[0], p[1], check[1]);
	/* The next write goes to the other slot than the copy in use. */
	m->seq[l] = 0;
	if (pick >= 0) {
		memcpy(out, p[pick], COLO_META_BLOCK_SIZE);
		h = p[pick];
		m->seq[l] = le64_to_cpu(h->seq);
	} else {
		r = pick;
	}
	dm_bufio_release(b[1]);
	dm_bufio_release(b[0]);
	return r;
}

/* The superblock. */

static u32 meta_mode(enum colo_mode mode)
{
	return mode == COLO_MODE_PRIMARY ? COLO_META_MODE_PRIMARY :
					   COLO_META_MODE_SECONDARY;
}

static u32 meta_commit(enum colo_commit_state state)
{
	switch (state) {
	case COLO_COMMIT_RUNNING:
	case COLO_COMMIT_FAILED:
		return COLO_META_COMMIT_RUNNING;
	case COLO_COMMIT_DONE:
		return COLO_META_COMMIT_DONE;
	default:
		return COLO_META_COMMIT_NONE;
	}
}

/*
 * Write m->sb with @mode, @commit and @gap (COLO_META_* values) after
 * everything queued, and flush: when it returns 0 the superblock and all
 * it names are durable. io_lock held.
 */
static int commit_super(struct colo_meta *m, u32 mode, u32 commit, u32 gap)
{
	u8 *block;
	int r;

	r = colo_meta_write_out(m, "write");
	if (r)
		return r;
	block = kzalloc(COLO_META_BLOCK_SIZE, GFP_NOIO);
	if (!block) {
		colo_meta_fail(m, "superblock allocation", -ENOMEM);
		return -ENOMEM;
	}
	m->sb.mode = cpu_to_le32(mode);
	m->sb.commit_state = cpu_to_le32(commit);
	m->sb.dirty_gap = cpu_to_le32(gap);
	memcpy(block, &m->sb, sizeof(m->sb));
	clear_bit(META_SB_DIRTY, &m->flags);
	put_block(m, 0, COLO_META_SUPER, 0, block);
	kfree(block);
	return colo_meta_write_out(m, "superblock write");
}

/*
 * The superblock with the device's state as it is now. A full sync is cut
 * short by a crash until its copies are on the replica and flushed (in
 * sync): the coverage on disk says so until then. io_lock held.
 */
static int commit_state(struct colo_meta *m)
{
	struct colo_c *cc = m->cc;
	u32 gap = READ_ONCE(cc->mirror_full_unsynced) ?
		  COLO_META_GAP_CUT_SHORT : READ_ONCE(cc->mirror_gap);

	return commit_super(m, meta_mode(READ_ONCE(cc->mode)),
			    meta_commit(READ_ONCE(cc->commit_state)), gap);
}

/* Bitmap blocks. */

/* Build region block @b from m->ondisk into @block. io_lock held. */
static void fill_region_block(struct colo_meta *m, u64 b, void *block)
{
	u64 first = b * COLO_META_BITS;
	u64 end = min_t(u64, first + COLO_META_BITS, m->layout.nr_regions);
	u64 r;

	memset(block, 0, COLO_META_BLOCK_SIZE);
	for (r = find_next_bit(m->ondisk, end, first); r < end;
	     r = find_next_bit(m->ondisk, end, r + 1))
		__set_bit_le(r - first, payload(block));
}

/* Queue the region blocks marked in blk_changed. io_lock held. */
int colo_meta_put_region_blocks(struct colo_meta *m)
{
	u64 b, nr = m->layout.region_blocks;
	void *block = kmalloc(COLO_META_BLOCK_SIZE, GFP_NOIO);

	if (!block) {
		colo_meta_fail(m, "region block allocation", -ENOMEM);
		return -ENOMEM;
	}
	for (b = find_first_bit(m->blk_changed, nr); b < nr;
	     b = find_next_bit(m->blk_changed, nr, b + 1)) {
		__clear_bit(b, m->blk_changed);
		fill_region_block(m, b, block);
		put_block(m, m->layout.regions_start + b, COLO_META_REGIONS, 0,
			  block);
	}
	kfree(block);
	return 0;
}

/* Build map block @b of @bm into @block's payload (header left zero). */
static void fill_map_block(struct colo_c *cc, struct colo_bitmap *bm, u64 b,
			   void *block)
{
	u64 first = b * COLO_META_BITS;

	/* Whole words: a block's bits start on a 64-bit boundary. */
	BUILD_BUG_ON(COLO_META_BITS % 64);
	memset(block, 0, COLO_META_HEADER_SIZE);
	colo_bitmap_get_le64(bm, first, COLO_META_BITS, payload(block));
}

static bool map_block_empty(struct colo_c *cc, struct colo_bitmap *bm, u64 b)
{
	u64 first = b * COLO_META_BITS;

	return colo_bitmap_next_set(bm, first) >=
	       min_t(u64, first + COLO_META_BITS, cc->nr_chunks);
}

/* Load map block @b of the current overlay into @bm. */
static int load_map_block(struct colo_meta *m, struct colo_bitmap *bm,
			  u64 start, enum colo_meta_kind kind, u64 b,
			  void *block)
{
	u64 first = b * COLO_META_BITS, i, n;
	int r;

	r = get_block(m, start + b, kind,
		      le64_to_cpu(m->sb.overlay_generation), block);
	if (r == -ENODATA)
		return 0;
	if (r)
		return r;
	n = min_t(u64, COLO_META_BITS, m->cc->nr_chunks - first);
	for (i = find_next_bit_le(payload(block), n, 0); i < n;
	     i = find_next_bit_le(payload(block), n, i + 1)) {
		r = colo_bitmap_prepare(bm, first + i, GFP_KERNEL);
		if (r)
			return r;
		colo_bitmap_set(bm, first + i);
	}
	return 0;
}

/* The failover commit's progress. */

/* The commit took @chunk out: its map blocks must be written. Any context. */
void colo_meta_chunk_left(struct colo_c *cc, u64 chunk)
{
	struct colo_meta *m = cc->meta;

	if (!m)
		return;
	set_bit(block_of(chunk), m->map_changed);
	set_bit(META_MAP_DIRTY, &m->flags);
}

/* Must a VM flush or FUA write wait for colo_meta_sync()? Any context. */
bool colo_meta_sync_needed(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	return m && test_bit(META_MAP_DIRTY, &m->flags) && !meta_failed(m);
}

/*
 * Put the commit's progress on disk: the map blocks whose bits were
 * cleared are built first, then base is flushed, then they are written.
 * A clear is seen only after its chunk's data reached base (the copy or
 * the VM write completed), so the flush makes that data durable before
 * the block that says so; a chunk whose clear misses the flush is copied
 * again after a crash, from an overlay that never changes. Sleeps.
 */
int colo_meta_sync(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;
	struct colo_bitmap *maps[] = { &cc->active_map, &cc->hidden_map };
	u64 starts[] = { m->layout.active_start, m->layout.hidden_start };
	enum colo_meta_kind kinds[] = { COLO_META_ACTIVE, COLO_META_HIDDEN };
	u64 b, n = 0, i, want, nr = m->layout.map_blocks, gen;
	u64 *which;
	u8 *snap;
	int r = 0;

	mutex_lock(&m->io_lock);
	if (meta_failed(m) || !test_and_clear_bit(META_MAP_DIRTY, &m->flags))
		goto out;
	/* Bits set after this are caught by the next sync (META_MAP_DIRTY). */
	want = bitmap_weight(m->map_changed, nr);
	which = kvmalloc_array(want, sizeof(*which), GFP_NOIO);
	snap = which ? kvmalloc_array(want, 2 * COLO_META_BLOCK_SIZE, GFP_NOIO) :
		       NULL;
	if (!snap) {
		/* Try again later: nothing was taken. */
		set_bit(META_MAP_DIRTY, &m->flags);
		kvfree(which);
		r = -ENOMEM;
		goto out;
	}
	for (b = find_first_bit(m->map_changed, nr); b < nr && n < want;
	     b = find_next_bit(m->map_changed, nr, b + 1)) {
		clear_bit(b, m->map_changed);
		fill_map_block(cc, maps[0], b,
			       snap + 2 * n * COLO_META_BLOCK_SIZE);
		fill_map_block(cc, maps[1], b,
			       snap + (2 * n + 1) * COLO_META_BLOCK_SIZE);
		which[n++] = b;
	}
	/* Blocks marked since bitmap_weight(): the next sync takes them. */
	if (find_next_bit(m->map_changed, nr, 0) < nr)
		set_bit(META_MAP_DIRTY, &m->flags);
	r = blkdev_issue_flush(cc->base->bdev);
	if (r) {
		/* Base may not hold what the blocks would say: not written. */
		for (i = 0; i < n; i++)
			set_bit(which[i], m->map_changed);
		set_bit(META_MAP_DIRTY, &m->flags);
	} else {
		gen = le64_to_cpu(m->sb.overlay_generation);
		for (i = 0; i < n; i++) {
			put_block(m, starts[0] + which[i], kinds[0], gen,
				  snap + 2 * i * COLO_META_BLOCK_SIZE);
			put_block(m, starts[1] + which[i], kinds[1], gen,
				  snap + (2 * i + 1) * COLO_META_BLOCK_SIZE);
		}
		r = colo_meta_write_out(m, "commit progress write");
	}
	kvfree(snap);
	kvfree(which);
out:
	mutex_unlock(&m->io_lock);
	return r;
}

/* Failover. */

/* Queue the blocks of @bm that have a bit set, under generation @gen. */
static int put_map(struct colo_meta *m, struct colo_bitmap *bm, u64 start,
		   enum colo_meta_kind kind, u64 gen)
{
	struct colo_c *cc = m->cc;
	void *block = kmalloc(COLO_META_BLOCK_SIZE, GFP_NOIO);
	u64 b;

	if (!block)
		return -ENOMEM;
	for (b = 0; b < m->layout.map_blocks; b++) {
		if (map_block_empty(cc, bm, b))
			continue;
		fill_map_block(cc, bm, b, block);
		put_block(m, start + b, kind, gen, block);
		cond_resched();
	}
	kfree(block);
	return 0;
}

/*
 * Failover, with I/O held and drained, dirty = active | hidden: make the
 * overlay durable (active and hidden flushed, the maps with a bit set
 * written under a new generation), mark the regions of its chunks, then
 * write the superblock that names it. Returns once all is durable. When
 * the metadata has failed (or fails now) the failover still happens: a
 * host just died and the VM must run; the status says the state is not
 * crash-safe (metadata "failed").
 */
void colo_meta_failover(struct colo_c *cc, u64 pending)
{
	struct colo_meta *m = cc->meta;
	u64 gen;
	int r;

	if (!m)
		return;
	mutex_lock(&m->io_lock);
	if (meta_failed(m)) {
		r = -EIO;
		goto out;
	}
	r = blkdev_issue_flush(cc->active->bdev);
	if (!r)
		r = blkdev_issue_flush(cc->hidden->bdev);
	if (r) {
		colo_meta_fail(m, "failover (flush of the overlay)", r);
		goto out;
	}
	/* Never reused: blocks of a failover that did not finish stay dead. */
	do {
		gen = get_random_u64();
	} while (!gen || gen == le64_to_cpu(m->sb.overlay_generation));
	r = put_map(m, &cc->active_map, m->layout.active_start,
		    COLO_META_ACTIVE, gen);
	if (!r)
		r = put_map(m, &cc->hidden_map, m->layout.hidden_start,
			    COLO_META_HIDDEN, gen);
	if (r) {
		colo_meta_fail(m, "failover (map allocation)", r);
		goto out;
	}
	colo_meta_want_chunks_of(m, &cc->dirty_map);
	r = colo_meta_write_marks(m);
	if (r)
		goto out;
	m->sb.overlay_generation = cpu_to_le64(gen);
	m->sb.to_commit = cpu_to_le64(pending);
	m->sb.previous_uuid = m->sb.current_uuid;
	m->sb.current_uuid = cpu_to_le64(get_random_u64());
	le64_add_cpu(&m->sb.failovers, 1);
	bitmap_zero(m->map_changed, m->layout.map_blocks);
	clear_bit(META_MAP_DIRTY, &m->flags);
	r = commit_super(m, COLO_META_MODE_PRIMARY,
			 pending ? COLO_META_COMMIT_RUNNING :
				   COLO_META_COMMIT_DONE, COLO_META_GAP_NONE);
out:
	mutex_unlock(&m->io_lock);
	if (r)
		DMERR("%s: failover with the overlay in memory only (%d)",
		      colo_name(cc), r);
}

/* The commit is done, base flushed: say so on disk. Sleeps. */
void colo_meta_commit_done(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	if (!m)
		return;
	mutex_lock(&m->io_lock);
	if (!meta_failed(m))
		commit_state(m);
	mutex_unlock(&m->io_lock);
}

/* The dirty bitmap's coverage changed: the tick writes it. Any context. */
void colo_meta_gap_changed(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	if (!m || !test_bit(META_LIVE, &m->flags))
		return;
	set_bit(META_SB_DIRTY, &m->flags);
	mod_delayed_work(m->wq, &m->tick, 0);
}

/* The coverage is @gap, on disk before this returns. Sleeps. */
int colo_meta_gap_sync(struct colo_c *cc, unsigned int gap)
{
	struct colo_meta *m = cc->meta;
	int r = 0;

	if (!m)
		return 0;
	mutex_lock(&m->io_lock);
	if (!meta_failed(m))
		r = commit_super(m, meta_mode(READ_ONCE(cc->mode)),
				 meta_commit(READ_ONCE(cc->commit_state)), gap);
	mutex_unlock(&m->io_lock);
	return r;
}

/*
 * The instance of the persistent fleece whose view base is kept for, as
 * the superblock names it; 0 for none or without a metadata device. Any
 * context.
 */
u64 colo_meta_fleece(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	return m ? le64_to_cpu(READ_ONCE(m->sb.fleece)) : 0;
}

/*
 * Name fleece @instance (0: none) in the superblock, on disk before this
 * returns 0. Sleeps.
 */
int colo_meta_set_fleece(struct colo_c *cc, u64 instance)
{
	struct colo_meta *m = cc->meta;
	int r = -EIO;

	if (!m)
		return -ENODEV;
	mutex_lock(&m->io_lock);
	if (!meta_failed(m)) {
		WRITE_ONCE(m->sb.fleece, cpu_to_le64(instance));
		r = commit_state(m);
	}
	mutex_unlock(&m->io_lock);
	return r;
}

static void tick_worker(struct work_struct *work)
{
	struct colo_meta *m = container_of(to_delayed_work(work),
					   struct colo_meta, tick);

	if (colo_meta_sync_needed(m->cc))
		colo_meta_sync(m->cc);
	colo_meta_fold_marks(m);
	mutex_lock(&m->io_lock);
	if (!meta_failed(m) && test_bit(META_SB_DIRTY, &m->flags))
		commit_state(m);
	mutex_unlock(&m->io_lock);
	colo_meta_clear_marks(m);
	if (test_bit(META_LIVE, &m->flags) && !meta_failed(m))
		queue_delayed_work(m->wq, &m->tick, META_TICK);
}

/* Loading and initialising. */

/* Does either copy of the superblock carry our magic number? */
static bool super_magic(struct colo_meta *m)
{
	const struct colo_meta_super *sb;
	struct dm_buffer *b;
	bool found = false;
	int i;

	for (i = 0; i < 2 && !found; i++) {
		sb = dm_bufio_read(m->bufio, i, &b);
		if (IS_ERR(sb))
			continue;
		found = le64_to_cpu(sb->magic) == COLO_META_MAGIC;
		dm_bufio_release(b);
	}
	return found;
}

/* The superblock, or why there is none that fits. */
static int read_super(struct colo_meta *m, struct colo_c *cc, char **error)
{
	u8 *block = kmalloc(COLO_META_BLOCK_SIZE, GFP_KERNEL);
	const struct colo_meta_super *sb = (const void *)block;
	int r;

	if (!block) {
		*error = "Cannot allocate a metadata block";
		return -ENOMEM;
	}
	m->instance = 0;
	r = get_block(m, 0, COLO_META_SUPER, 0, block);
	if (r == -EILSEQ) {
		/* Ours but damaged, or something else? */
		*error = super_magic(m) ?
			 "Metadata superblock is corrupted (checksum)" :
			 "Metadata device holds another format";
		r = -EINVAL;
	} else if (r == -ENODATA) {
		r = 1;		/* fresh */
	} else if (r) {
		*error = "Cannot read the metadata superblock";
	} else {
		r = colo_meta_check_super(sb, &m->layout, cc->ti->len,
					  cc->chunk_shift, m->region_shift,
					  bdev_nr_sectors(m->dev->bdev) >>
					  (COLO_META_BLOCK_SHIFT - 9), error);
		if (!r) {
			memcpy(&m->sb, sb, sizeof(m->sb));
			m->instance = le64_to_cpu(sb->header.instance);
		}
	}
	kfree(block);
	return r;
}

/* Initialise a zeroed device: blank maps, empty regions, a superblock. */
static int init_meta(struct colo_meta *m, struct colo_c *cc, char **error)
{
	u64 b;
	int r;

	r = blkdev_issue_zeroout(m->dev->bdev, 0, m->layout.nr_blocks <<
				 (COLO_META_BLOCK_SHIFT - 9), GFP_KERNEL, 0);
	if (r) {
		*error = "Cannot initialise the metadata device";
		return r;
	}
	m->instance = get_random_u64() | 1;
	memset(&m->sb, 0, sizeof(m->sb));
	m->sb.magic = cpu_to_le64(COLO_META_MAGIC);
	m->sb.version = cpu_to_le32(COLO_META_VERSION);
	m->sb.block_size = cpu_to_le32(COLO_META_BLOCK_SIZE);
	m->sb.dev_sectors = cpu_to_le64(cc->ti->len);
	m->sb.chunk_sectors = cpu_to_le32(1U << cc->chunk_shift);
	m->sb.region_sectors = cpu_to_le32(1U << m->region_shift);
	m->sb.nr_blocks = cpu_to_le64(m->layout.nr_blocks);
	m->sb.current_uuid = cpu_to_le64(get_random_u64());
	for (b = 0; b < m->layout.region_blocks; b++)
		__set_bit(b, m->blk_changed);
	mutex_lock(&m->io_lock);
	r = colo_meta_put_region_blocks(m);
	if (!r)
		r = commit_super(m, meta_mode(cc->mode), COLO_META_COMMIT_NONE,
				 COLO_META_GAP_FRESH);
	mutex_unlock(&m->io_lock);
	if (r)
		*error = "Cannot initialise the metadata device";
	else
		DMINFO("%s: metadata device initialised (%llu blocks)",
		       colo_name(cc), (unsigned long long)m->layout.nr_blocks);
	return r;
}

static int read_regions(struct colo_meta *m, char **error)
{
	u8 *block = kmalloc(COLO_META_BLOCK_SIZE, GFP_KERNEL);
	u64 b, i, n, first;
	int r = 0;

	if (!block)
		return -ENOMEM;
	m->nr_marked = 0;
	for (b = 0; b < m->layout.region_blocks; b++) {
		r = get_block(m, m->layout.regions_start + b,
			      COLO_META_REGIONS, 0, block);
		if (r) {
			*error = "Metadata region bitmap is corrupted";
			break;
		}
		first = b * COLO_META_BITS;
		n = min_t(u64, COLO_META_BITS, m->layout.nr_regions - first);
		for (i = find_next_bit_le(payload(block), n, 0); i < n;
		     i = find_next_bit_le(payload(block), n, i + 1)) {
			__set_bit(first + i, m->ondisk);
			__set_bit(first + i, m->marked);
			m->nr_marked++;
		}
	}
	kfree(block);
	return r;
}

/*
 * Every chunk of every region marked on disk becomes dirty: at load, and
 * after a failed replica flush (colo_meta_fold_marks()). Returns 0, or
 * -ENOMEM with the bits set so far kept. io_lock held, or not live yet.
 */
int colo_meta_marks_to_dirty(struct colo_meta *m, gfp_t gfp)
{
	struct colo_c *cc = m->cc;
	u64 r, c, first, end, nr = m->layout.nr_regions;
	int err;

	for (r = find_first_bit(m->ondisk, nr); r < nr;
	     r = find_next_bit(m->ondisk, nr, r + 1)) {
		colo_meta_region_chunks(r, m->region_shift, cc->chunk_shift,
					cc->nr_chunks, &first, &end);
		for (c = first; c < end; c++) {
			err = colo_bitmap_prepare(&cc->dirty_map, c, gfp);
			if (err)
				return err;
			colo_bitmap_set(&cc->dirty_map, c);
		}
		cond_resched();
	}
	return 0;
}

/* The overlay of a pending commit, into the active and hidden maps. */
static int load_overlay(struct colo_meta *m, struct colo_c *cc)
{
	u8 *block = kmalloc(COLO_META_BLOCK_SIZE, GFP_KERNEL);
	u64 b, c, left = 0;
	int r = 0;

	if (!block)
		return -ENOMEM;
	for (b = 0; b < m->layout.map_blocks && !r; b++) {
		r = load_map_block(m, &cc->active_map, m->layout.active_start,
				   COLO_META_ACTIVE, b, block);
		if (!r)
			r = load_map_block(m, &cc->hidden_map,
					   m->layout.hidden_start,
					   COLO_META_HIDDEN, b, block);
		cond_resched();
	}
	kfree(block);
	if (r)
		return r;
	for (c = 0; c < cc->nr_chunks; c++) {
		c = min(colo_bitmap_next_set(&cc->active_map, c),
			colo_bitmap_next_set(&cc->hidden_map, c));
		if (c < cc->nr_chunks)
			left++;
	}
	cc->to_commit = le64_to_cpu(m->sb.to_commit);
	atomic64_set(&cc->committed, cc->to_commit - min(left, cc->to_commit));
	return 0;
}

/*
 * Bring back the state the superblock describes (README "Recovery"). A
 * primary comes back primary, whatever the table says; a secondary's
 * overlay is not kept (it is speculative), so it comes back empty.
 */
static int recover_state(struct colo_meta *m, struct colo_c *cc, char **error)
{
	u32 mode = le32_to_cpu(m->sb.mode);
	u32 commit = le32_to_cpu(m->sb.commit_state);
	int r;

	if (mode == COLO_META_MODE_SECONDARY) {
		if (cc->mode == COLO_MODE_PRIMARY) {
			*error = "Metadata of a secondary: wipe it to use it for a primary";
			return -EINVAL;
		}
		return 0;
	}
	if (cc->hidden && !le64_to_cpu(m->sb.failovers)) {
		*error = "Metadata of a primary: wipe it to use it for a secondary";
		return -EINVAL;
	}
	if (commit == COLO_META_COMMIT_RUNNING && !cc->hidden) {
		*error = "A failover commit is pending: load the secondary table";
		return -EINVAL;
	}
	if (!cc->hidden)
		r = 0;
	else if (commit == COLO_META_COMMIT_RUNNING)
		r = load_overlay(m, cc);
	else
		r = 0;
	if (!r)
		r = colo_meta_marks_to_dirty(m, GFP_KERNEL);
	if (r) {
		*error = r == -ENOMEM ? "Cannot allocate the recovered bitmaps" :
			 "Metadata overlay map is corrupted";
		return r;
	}
	cc->mode = COLO_MODE_PRIMARY;
	if (cc->hidden)
		set_bit(COLO_FENCED, &cc->flags);
	cc->mirror_gap = le32_to_cpu(m->sb.dirty_gap);
	if (commit == COLO_META_COMMIT_RUNNING) {
		cc->commit_state = COLO_COMMIT_RUNNING;
	} else if (commit == COLO_META_COMMIT_DONE) {
		cc->commit_state = COLO_COMMIT_DONE;
		cc->to_commit = le64_to_cpu(m->sb.to_commit);
		atomic64_set(&cc->committed, cc->to_commit);
	}
	DMINFO("%s: recovered: primary, commit %s, %llu left, %llu regions marked, coverage %s",
	       colo_name(cc), colo_commit_state_name(cc->commit_state),
	       (unsigned long long)(cc->to_commit -
				    atomic64_read(&cc->committed)),
	       (unsigned long long)m->nr_marked,
	       cc->mirror_gap ? "incomplete" : "complete");
	return 0;
}

static int alloc_meta(struct colo_meta *m)
{
	struct colo_meta_layout *l = &m->layout;

	m->seq = kvcalloc(l->nr_logical, sizeof(*m->seq), GFP_KERNEL);
	m->ondisk = kvzalloc_bits(l->nr_regions);
	m->marked = kvzalloc_bits(l->nr_regions);
	m->used = kvzalloc_bits(l->nr_regions);
	m->want = kvzalloc_bits(l->nr_regions);
	m->marking = kvzalloc_bits(l->nr_regions);
	m->clearing = kvzalloc_bits(l->nr_regions);
	m->blk_changed = kvzalloc_bits(l->region_blocks);
	m->map_changed = kvzalloc_bits(l->map_blocks);
	m->users = kvcalloc(l->nr_regions, sizeof(*m->users), GFP_KERNEL);
	if (!m->seq || !m->ondisk || !m->marked || !m->used || !m->want ||
	    !m->marking || !m->clearing || !m->blk_changed ||
	    !m->map_changed || !m->users)
		return -ENOMEM;
	return 0;
}

static void free_meta(struct colo_meta *m)
{
	if (m->wq)
		destroy_workqueue(m->wq);
	if (!IS_ERR_OR_NULL(m->bufio))
		dm_bufio_client_destroy(m->bufio);
	kvfree(m->users);
	kvfree(m->map_changed);
	kvfree(m->blk_changed);
	kvfree(m->clearing);
	kvfree(m->marking);
	kvfree(m->want);
	kvfree(m->used);
	kvfree(m->marked);
	kvfree(m->ondisk);
	kvfree(m->seq);
	kfree(m);
}

/*
 * The constructor's step for "metadata <dev>": check the device and its
 * superblock against the table (refused with @error, nothing written),
 * initialise a zeroed one, and when @recover bring its state back into
 * @cc. Without @recover the table takes a live table's state over at its
 * first resume (colo_meta_carry()), and only the checks are done.
 */
int colo_meta_open(struct colo_c *cc, struct dm_dev *dev,
		   unsigned int region_shift, bool recover, char **error)
{
	struct colo_meta *m;
	int r;

	if (bdev_logical_block_size(dev->bdev) > COLO_META_BLOCK_SIZE) {
		*error = "Metadata device's logical block size is over 4096 bytes";
		return -EINVAL;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m) {
		*error = "Cannot allocate the metadata state";
		return -ENOMEM;
	}
	m->cc = cc;
	m->dev = dev;
	m->region_shift = region_shift;
	mutex_init(&m->io_lock);
	spin_lock_init(&m->lock);
	bio_list_init(&m->waiting);
	INIT_WORK(&m->mark_work, colo_meta_mark_worker);
	INIT_DELAYED_WORK(&m->tick, tick_worker);
	colo_meta_layout(&m->layout, cc->ti->len, cc->chunk_shift,
			 region_shift);

	r = -EINVAL;
	if (bdev_nr_sectors(dev->bdev) >> (COLO_META_BLOCK_SHIFT - 9) <
	    m->layout.nr_blocks) {
		DMERR("%s: metadata device %s has %llu sectors, the table needs %llu",
		      colo_name(cc), dev->name, (unsigned long long)bdev_nr_sectors(dev->bdev),
		      (unsigned long long)m->layout.nr_blocks *
		      COLO_META_BLOCK_SECTORS);
		*error = "Metadata device is too small";
		goto bad;
	}
	r = alloc_meta(m);
	if (r) {
		*error = "Cannot allocate the metadata state";
		goto bad;
	}
	m->wq = alloc_workqueue("dm-colo-meta", WQ_MEM_RECLAIM, 1);
	m->bufio = dm_bufio_client_create(dev->bdev, COLO_META_BLOCK_SIZE, 1,
					  0, NULL, NULL, 0);
	if (!m->wq || IS_ERR(m->bufio)) {
		*error = "Cannot create the metadata client";
		r = -ENOMEM;
		goto bad;
	}

	r = read_super(m, cc, error);
	if (r == 1)
		r = init_meta(m, cc, error);
	else if (!r)
		r = read_regions(m, error);
	if (!r && recover)
		r = recover_state(m, cc, error);
	if (r)
		goto bad;
	if (recover)
		set_bit(META_LIVE, &m->flags);
	/* A fleece's view may be re-attached until base is written. */
	if (recover && le64_to_cpu(m->sb.fleece))
		set_bit(COLO_FLEECE_STALE, &cc->flags);
	cc->meta = m;
	return 0;
bad:
	free_meta(m);
	return r;
}

/* Stop the work items; the state on disk catches up. */
void colo_meta_suspend(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	if (!m || !test_bit(META_LIVE, &m->flags))
		return;
	/*
	 * A failed replica flush the tick had no time for (I/O is quiesced:
	 * no other comes). Before the tick stops: the gap it clears queues
	 * the tick.
	 */
	colo_meta_fold_marks(m);
	cancel_delayed_work_sync(&m->tick);
	flush_work(&m->mark_work);
	if (colo_meta_sync_needed(cc))
		colo_meta_sync(cc);
	mutex_lock(&m->io_lock);
	if (!meta_failed(m) && test_bit(META_SB_DIRTY, &m->flags))
		commit_state(m);
	mutex_unlock(&m->io_lock);
}

void colo_meta_resume(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	if (m && test_bit(META_LIVE, &m->flags) && !meta_failed(m))
		mod_delayed_work(m->wq, &m->tick, META_TICK);
}

/*
 * A reload: @to takes over the metadata state of @from, the table it
 * replaces (both on the same device, see colo_meta_same()). Each keeps its
 * own dm_dev; @from is suspended (colo_meta_suspend() ran).
 */
void colo_meta_carry(struct colo_c *from, struct colo_c *to)
{
	struct dm_dev *dev;

	if (!from->meta || !to->meta)
		return;
	swap(from->meta, to->meta);
	dev = from->meta->dev;
	from->meta->dev = to->meta->dev;
	to->meta->dev = dev;
	from->meta->cc = from;
	to->meta->cc = to;
}

/* The destructor: nothing is in flight. */
void colo_meta_close(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	if (!m)
		return;
	clear_bit(META_LIVE, &m->flags);
	cancel_delayed_work_sync(&m->tick);
	flush_work(&m->mark_work);
	cc->meta = NULL;
	free_meta(m);
}

/*
 * The status fields of the metadata: <metadata> <uuids> <regions>, see
 * colo_status().
 */
void colo_meta_status(struct colo_c *cc, char *result, unsigned int maxlen,
		      unsigned int *psz)
{
	struct colo_meta *m = cc->meta;
	unsigned int sz = *psz;

	if (!m) {
		DMEMIT(" none - -");
	} else {
		DMEMIT(" %s %016llx/%016llx %llu/%llu",
		       meta_failed(m) ? "failed" : "ok",
		       (unsigned long long)le64_to_cpu(READ_ONCE(m->sb.current_uuid)),
		       (unsigned long long)le64_to_cpu(READ_ONCE(m->sb.previous_uuid)),
		       (unsigned long long)READ_ONCE(m->nr_marked),
		       (unsigned long long)m->layout.nr_regions);
	}
	*psz = sz;
}
