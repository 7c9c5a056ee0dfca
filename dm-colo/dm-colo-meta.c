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
 *
 * Write-intent marks. A write in primary mode counts itself in the users
 * of every region it touches, then checks that each region is marked: the
 * clearing pass clears a region's marked bit, then reads its users, with a
 * full barrier between each pair of steps, so either the pass sees the
 * write and keeps the mark, or the write sees the mark gone and asks for
 * it again. A write whose marks are missing waits on the waiting list;
 * the mark worker writes every mark asked for with one write and one
 * flush, then lets all the waiting writes go (colo_meta.wake).
 */
#include <linux/blkdev.h>
#include <linux/dm-bufio.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dm-colo.h"

#define DM_MSG_PREFIX "colo"

/* The clearing pass and the commit's progress run this often. */
#define META_TICK	HZ

/* Bits of colo_meta.flags. */
enum {
	META_LIVE,		/* holds the device's state: writes, ticks */
	META_FAILED,		/* a metadata write failed: not used any more */
	META_SB_DIRTY,		/* the superblock lags the state (coverage) */
	META_MAP_DIRTY,		/* the commit cleared bits not on disk yet */
};

struct colo_meta {
	struct colo_c *cc;
	struct dm_dev *dev;
	struct dm_bufio_client *bufio;
	struct workqueue_struct *wq;
	struct colo_meta_layout layout;
	unsigned int region_shift;
	u64 instance;
	unsigned long flags;

	/* Every metadata write, the superblock and what is on disk. */
	struct mutex io_lock;
	struct colo_meta_super sb;	/* the newest superblock, on-disk order */
	u64 *seq;			/* newest copy of each logical block */
	unsigned long *ondisk;		/* the region bits as on disk */
	unsigned long *blk_changed;	/* region blocks to write */
	u64 nr_marked;			/* bits in ondisk; READ_ONCE */

	/* Marks a write may rely on; see the head of the file. */
	unsigned long *marked;
	unsigned long *used;		/* written since the last pass */
	atomic_t *users;		/* writes and copies in flight */

	spinlock_t lock;		/* want and waiting */
	unsigned long *want;		/* marks asked for */
	unsigned long *marking;		/* marks being written (io_lock) */
	struct bio_list waiting;	/* bios waiting for their marks */
	struct work_struct mark_work;
	struct delayed_work tick;

	unsigned long *map_changed;	/* map blocks with bits cleared */
};

static void *kvzalloc_bits(u64 nr)
{
	return kvcalloc(BITS_TO_LONGS(nr), sizeof(unsigned long), GFP_KERNEL);
}

static u64 region_of(struct colo_meta *m, sector_t sector)
{
	return sector >> m->region_shift;
}

static u64 block_of(u64 bit)
{
	return div_u64(bit, COLO_META_BITS);
}

static void *payload(void *block)
{
	return (u8 *)block + COLO_META_HEADER_SIZE;
}

/* I/O. */

static bool meta_failed(struct colo_meta *m)
{
	return test_bit(META_FAILED, &m->flags);
}

/*
 * A metadata write failed: from now on nothing is written, and nothing
 * waits for a mark (the waiting writes go). The state in memory stays
 * right; only what a crash would keep is lost. io_lock held.
 */
static void fail_meta(struct colo_meta *m, const char *what, int r)
{
	if (test_and_set_bit(META_FAILED, &m->flags))
		return;
	DMERR("%s: metadata %s failed (%d): state is no longer crash-safe",
	      colo_name(m->cc), what, r);
	colo_error(m->cc);
}

/*
 * Write every block made dirty and wait for them: dm_bufio_write_dirty_
 * buffers() ends with a flush of the device, so they are durable.
 */
static int write_out(struct colo_meta *m, const char *what)
{
	int r;

	if (meta_failed(m))
		return -EIO;
	r = dm_bufio_write_dirty_buffers(m->bufio);
	if (r)
		fail_meta(m, what, r);
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
		fail_meta(m, "buffer allocation", PTR_ERR(p));
		return;
	}
	memcpy(p, data, COLO_META_BLOCK_SIZE);
	colo_meta_seal(p, kind, l, m->instance, seq, generation);
	dm_bufio_mark_buffer_dirty(b);
	dm_bufio_release(b);
	m->seq[l] = seq;
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

	r = write_out(m, "write");
	if (r)
		return r;
	block = kzalloc(COLO_META_BLOCK_SIZE, GFP_NOIO);
	if (!block) {
		fail_meta(m, "superblock allocation", -ENOMEM);
		return -ENOMEM;
	}
	m->sb.mode = cpu_to_le32(mode);
	m->sb.commit_state = cpu_to_le32(commit);
	m->sb.dirty_gap = cpu_to_le32(gap);
	memcpy(block, &m->sb, sizeof(m->sb));
	clear_bit(META_SB_DIRTY, &m->flags);
	put_block(m, 0, COLO_META_SUPER, 0, block);
	kfree(block);
	return write_out(m, "superblock write");
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
static int put_region_blocks(struct colo_meta *m)
{
	u64 b, nr = m->layout.region_blocks;
	void *block = kmalloc(COLO_META_BLOCK_SIZE, GFP_NOIO);

	if (!block) {
		fail_meta(m, "region block allocation", -ENOMEM);
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
	u64 end = min_t(u64, first + COLO_META_BITS, cc->nr_chunks);
	u64 c;

	memset(block, 0, COLO_META_BLOCK_SIZE);
	for (c = colo_bitmap_next_set(bm, first); c < end;
	     c = colo_bitmap_next_set(bm, c + 1))
		__set_bit_le(c - first, payload(block));
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

/* Write-intent marks. */

/*
 * Make the marks asked for in m->want durable, then usable. Returns the
 * result of the write; on failure the marks are not usable, but nothing
 * waits for them any more (fail_meta()). io_lock held.
 */
static int write_marks(struct colo_meta *m)
{
	u64 r, nr = m->layout.nr_regions;
	bool any = false;
	int err;

	/* Take the marks asked for until now; later ones wait for a run. */
	spin_lock_irq(&m->lock);
	for (r = find_first_bit(m->want, nr); r < nr;
	     r = find_next_bit(m->want, nr, r + 1)) {
		__clear_bit(r, m->want);
		__set_bit(r, m->marking);
		any = true;
		if (!test_bit(r, m->ondisk)) {
			__set_bit(r, m->ondisk);
			__set_bit(block_of(r), m->blk_changed);
			WRITE_ONCE(m->nr_marked, m->nr_marked + 1);
		}
	}
	spin_unlock_irq(&m->lock);
	if (!any)
		return 0;

	err = put_region_blocks(m);
	if (!err)
		err = write_out(m, "mark write");

	for (r = find_first_bit(m->marking, nr); r < nr;
	     r = find_next_bit(m->marking, nr, r + 1)) {
		__clear_bit(r, m->marking);
		if (!err)
			set_bit(r, m->marked);
	}
	return err;
}

static void mark_worker(struct work_struct *work)
{
	struct colo_meta *m = container_of(work, struct colo_meta, mark_work);
	struct bio_list bios;

	bio_list_init(&bios);
	mutex_lock(&m->io_lock);
	/* Every bio waiting now asked for its marks before we take them. */
	spin_lock_irq(&m->lock);
	bio_list_merge(&bios, &m->waiting);
	bio_list_init(&m->waiting);
	spin_unlock_irq(&m->lock);
	write_marks(m);
	mutex_unlock(&m->io_lock);

	/* Marked, or failed: they run again from the top either way. */
	if (!bio_list_empty(&bios))
		colo_defer_bios(m->cc, &bios);
}

static void regions_of(struct colo_meta *m, struct colo_io *io,
		       unsigned int sectors, u64 *first, u64 *last)
{
	*first = region_of(m, io->sector);
	*last = region_of(m, io->sector + sectors - 1);
}

/*
 * A write in primary mode: true when every region it touches is marked on
 * disk, and it then counts as a user of them until colo_meta_write_end().
 * Else the bio waits for its marks and runs again from the worker: false,
 * the caller returns DM_MAPIO_SUBMITTED. Map or worker context.
 */
bool colo_meta_write_begin(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io)
{
	struct colo_meta *m = cc->meta;
	unsigned long flags;
	bool marked = true;
	u64 r, first, last;

	if (!m || io->meta_sectors || !bio_sectors(bio) || meta_failed(m))
		return true;
	regions_of(m, io, bio_sectors(bio), &first, &last);
	for (r = first; r <= last; r++)
		atomic_inc(&m->users[r]);
	/* Pairs with the barrier in clear_region(). */
	smp_mb__after_atomic();
	for (r = first; r <= last; r++)
		if (!test_bit(r, m->marked))
			marked = false;
	if (marked) {
		for (r = first; r <= last; r++)
			if (!test_bit(r, m->used))
				set_bit(r, m->used);
		io->meta_sectors = bio_sectors(bio);
		return true;
	}
	for (r = first; r <= last; r++)
		atomic_dec(&m->users[r]);

	spin_lock_irqsave(&m->lock, flags);
	if (meta_failed(m)) {
		spin_unlock_irqrestore(&m->lock, flags);
		return true;
	}
	for (r = first; r <= last; r++)
		if (!test_bit(r, m->marked))
			__set_bit(r, m->want);
	bio_list_add(&m->waiting, bio);
	spin_unlock_irqrestore(&m->lock, flags);
	queue_work(m->wq, &m->mark_work);
	return false;
}

/* The write of @io completed. Any context. */
void colo_meta_write_end(struct colo_c *cc, struct colo_io *io)
{
	struct colo_meta *m = cc->meta;
	u64 r, first, last;

	if (!m || !io->meta_sectors)
		return;
	regions_of(m, io, io->meta_sectors, &first, &last);
	for (r = first; r <= last; r++)
		atomic_dec(&m->users[r]);
	io->meta_sectors = 0;
}

static atomic_t *chunk_users(struct colo_c *cc, u64 chunk)
{
	struct colo_meta *m = cc->meta;

	return &m->users[region_of(m, colo_chunk_to_sector(chunk,
							   cc->chunk_shift))];
}

/* A mirror copy of @chunk keeps its region marked. Any context. */
void colo_meta_copy_get(struct colo_c *cc, u64 chunk)
{
	if (cc->meta)
		atomic_inc(chunk_users(cc, chunk));
}

void colo_meta_copy_put(struct colo_c *cc, u64 chunk)
{
	if (cc->meta)
		atomic_dec(chunk_users(cc, chunk));
}

/* Ask for the marks of chunks @first..@last (a message; sleeps). */
int colo_meta_mark_chunks(struct colo_c *cc, u64 first, u64 last)
{
	struct colo_meta *m = cc->meta;
	u64 r, end;

	if (!m)
		return 0;
	end = region_of(m, colo_chunk_to_sector(last, cc->chunk_shift));
	spin_lock_irq(&m->lock);
	for (r = region_of(m, colo_chunk_to_sector(first, cc->chunk_shift));
	     r <= end; r++)
		if (!test_bit(r, m->marked))
			__set_bit(r, m->want);
	spin_unlock_irq(&m->lock);
	return 0;
}

/* Write the marks asked for by colo_meta_mark_chunks(). Sleeps. */
int colo_meta_flush_marks(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;
	int r;

	if (!m)
		return 0;
	mutex_lock(&m->io_lock);
	r = write_marks(m);
	mutex_unlock(&m->io_lock);
	/* A failed metadata device stops nothing (fail_meta()). */
	return meta_failed(m) ? 0 : r;
}

static bool region_dirty(struct colo_meta *m, u64 region)
{
	struct colo_c *cc = m->cc;
	u64 first, end;

	colo_meta_region_chunks(region, m->region_shift, cc->chunk_shift,
				cc->nr_chunks, &first, &end);
	return colo_bitmap_next_set(&cc->dirty_map, first) < end;
}

/*
 * Clear @region's mark if it is on the replica and idle: no write since
 * the last pass, none in flight, no dirty chunk. io_lock held.
 */
static void clear_region(struct colo_meta *m, u64 region)
{
	if (test_and_clear_bit(region, m->used) ||
	    atomic_read(&m->users[region]) || region_dirty(m, region))
		return;
	clear_bit(region, m->marked);
	/* Pairs with the barrier in colo_meta_write_begin(). */
	smp_mb__after_atomic();
	if (atomic_read(&m->users[region]) || region_dirty(m, region)) {
		set_bit(region, m->marked);
		return;
	}
	__clear_bit(region, m->ondisk);
	__set_bit(block_of(region), m->blk_changed);
	WRITE_ONCE(m->nr_marked, m->nr_marked - 1);
}

/*
 * The lazy clearing pass: only while the mirror is in sync, where a chunk
 * that is not dirty is on the replica. A lost clear would only cost a
 * resync of the region after a crash.
 */
static void clear_marks(struct colo_meta *m)
{
	u64 r, nr = m->layout.nr_regions;

	if (colo_mirror_state(m->cc) != COLO_MIRROR_INSYNC)
		return;
	for (r = find_first_bit(m->ondisk, nr); r < nr;
	     r = find_next_bit(m->ondisk, nr, r + 1)) {
		clear_region(m, r);
		cond_resched();
	}
	if (!put_region_blocks(m))
		write_out(m, "clear write");
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
		r = write_out(m, "commit progress write");
	}
	kvfree(snap);
	kvfree(which);
out:
	mutex_unlock(&m->io_lock);
	return r;
}

/* Failover. */

static void want_chunks_of(struct colo_meta *m, struct colo_bitmap *bm)
{
	struct colo_c *cc = m->cc;
	u64 c;

	spin_lock_irq(&m->lock);
	for (c = colo_bitmap_next_set(bm, 0); c < cc->nr_chunks;
	     c = colo_bitmap_next_set(bm, c + 1))
		__set_bit(region_of(m, colo_chunk_to_sector(c, cc->chunk_shift)),
			  m->want);
	spin_unlock_irq(&m->lock);
}

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
		fail_meta(m, "failover (flush of the overlay)", r);
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
		fail_meta(m, "failover (map allocation)", r);
		goto out;
	}
	want_chunks_of(m, &cc->dirty_map);
	r = write_marks(m);
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

static void tick_worker(struct work_struct *work)
{
	struct colo_meta *m = container_of(to_delayed_work(work),
					   struct colo_meta, tick);

	if (colo_meta_sync_needed(m->cc))
		colo_meta_sync(m->cc);
	mutex_lock(&m->io_lock);
	if (!meta_failed(m)) {
		if (test_bit(META_SB_DIRTY, &m->flags))
			commit_state(m);
		clear_marks(m);
	}
	mutex_unlock(&m->io_lock);
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
	r = put_region_blocks(m);
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

/* Every chunk of every marked region is dirty. */
static int load_dirty(struct colo_meta *m, struct colo_c *cc)
{
	u64 r, c, first, end, nr = m->layout.nr_regions;
	int err;

	for (r = find_first_bit(m->ondisk, nr); r < nr;
	     r = find_next_bit(m->ondisk, nr, r + 1)) {
		colo_meta_region_chunks(r, m->region_shift, cc->chunk_shift,
					cc->nr_chunks, &first, &end);
		for (c = first; c < end; c++) {
			err = colo_bitmap_prepare(&cc->dirty_map, c, GFP_KERNEL);
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
		r = load_dirty(m, cc);
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
	m->blk_changed = kvzalloc_bits(l->region_blocks);
	m->map_changed = kvzalloc_bits(l->map_blocks);
	m->users = kvcalloc(l->nr_regions, sizeof(*m->users), GFP_KERNEL);
	if (!m->seq || !m->ondisk || !m->marked || !m->used || !m->want ||
	    !m->marking || !m->blk_changed || !m->map_changed || !m->users)
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
	INIT_WORK(&m->mark_work, mark_worker);
	INIT_DELAYED_WORK(&m->tick, tick_worker);
	colo_meta_layout(&m->layout, cc->ti->len, cc->chunk_shift,
			 region_shift);

	r = -EINVAL;
	if (bdev_nr_sectors(dev->bdev) >> (COLO_META_BLOCK_SHIFT - 9) <
	    m->layout.nr_blocks) {
		DMERR("metadata device %s has %llu sectors, the table needs %llu",
		      dev->name, (unsigned long long)bdev_nr_sectors(dev->bdev),
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
