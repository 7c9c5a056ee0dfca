// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: a persistent fleece's map, kept on its buffer (the format is in
 * dm-colo-fleece-format.h). Below dm-colo-save.c, which decides what the
 * map says: this file keeps the image of the table and of the gone bits in
 * memory, writes what changed (colo_fleece_map_commit()), lays a new map
 * out, and reads a map back for a re-attach.
 *
 * Locking contract:
 *  - colo_fleece_map_set() and colo_fleece_map_gone() change the image
 *    under fl->lock, which the caller holds: safe from any context;
 *  - colo_fleece_map_commit() sleeps; commits are serialized by the map's
 *    commit_lock;
 *  - the rest runs in the constructor and the destructor.
 */
#include <linux/blkdev.h>
#include <linux/bitops.h>
#include <linux/dm-io.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dm-colo.h"
#include "dm-colo-fleece.h"
#include "dm-colo-fleece-format.h"
#include "dm-colo-meta.h"

#define DM_MSG_PREFIX "colo-fleece"

struct colo_fleece_map {
	struct colo_fleece_layout l;
	struct dm_io_client *io;
	__le64 *table;			/* slot -> chunk + 1; fl->lock */
	u8 *gone;			/* chunk bits, little-endian; fl->lock */
	unsigned long *table_dirty;	/* blocks changed since written */
	unsigned long *gone_dirty;
	struct mutex commit_lock;	/* one commit at a time */
	void *block;			/* what a commit writes; commit_lock */
	struct colo_fleece_header *header;	/* as read (re-attach) */
};

/* Synchronous I/O of @sectors at @sector of the buffer, from or to @data. */
static int buffer_io(struct colo_fleece *fl, blk_opf_t opf, sector_t sector,
		     void *data, sector_t sectors)
{
	struct dm_io_region where = {
		.bdev = fl->buffer->bdev, .sector = sector, .count = sectors,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.client = fl->map->io,
	};
	unsigned long error = 0;
	int r;

	if (is_vmalloc_addr(data)) {
		req.mem.type = DM_IO_VMA;
		req.mem.ptr.vma = data;
	} else {
		req.mem.type = DM_IO_KMEM;
		req.mem.ptr.addr = data;
	}
	r = dm_io(&req, 1, &where, &error, IOPRIO_DEFAULT);
	return r ? r : (error ? -EIO : 0);
}

/*
 * Set up the map of a persistent fleece, in the constructor before it
 * attaches; for a re-attach, read the buffer's header. Process context.
 */
int colo_fleece_map_alloc(struct colo_fleece *fl, char **error)
{
	struct colo_fleece_map *m;
	int r;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		goto nomem;
	fl->map = m;
	mutex_init(&m->commit_lock);
	m->block = kzalloc(COLO_FLEECE_BLOCK_SIZE, GFP_KERNEL);
	if (!m->block)
		goto nomem;
	m->io = dm_io_client_create();
	if (IS_ERR(m->io)) {
		m->io = NULL;
		goto nomem;
	}
	if (!fl->reattach)
		return 0;
	m->header = kzalloc(COLO_FLEECE_BLOCK_SIZE, GFP_KERNEL);
	if (!m->header)
		goto nomem;
	r = buffer_io(fl, REQ_OP_READ, 0, m->header, COLO_FLEECE_BLOCK_SECTORS);
	if (r) {
		*error = "Cannot read the buffer's header";
		return r;
	}
	return 0;
nomem:
	*error = "Cannot allocate the persistent map";
	return -ENOMEM;
}

void colo_fleece_map_free(struct colo_fleece *fl)
{
	struct colo_fleece_map *m = fl->map;

	if (!m)
		return;
	kvfree(fl->gone);
	fl->gone = NULL;
	kvfree(m->table);
	kvfree(m->gone);
	bitmap_free(m->table_dirty);
	bitmap_free(m->gone_dirty);
	kfree(m->header);
	if (m->io)
		dm_io_client_destroy(m->io);
	kfree(m->block);
	kfree(m);
	fl->map = NULL;
}

/*
 * The geometry of a persistent fleece attaching to @cc (fl->chunk_shift
 * and nr_chunks set): the slots after the map, and for a re-attach the
 * checks that the buffer holds this view and that @cc's metadata says
 * base was not written without it since. Caller holds colo_registry_lock.
 */
int colo_fleece_map_layout(struct colo_fleece *fl, struct colo_c *cc,
			   char **error)
{
	struct colo_fleece_map *m = fl->map;
	struct colo_fleece_header *h = m->header;

	if (!cc->meta) {
		*error = "A persistent fleece needs a colo device with a metadata device";
		return -EINVAL;
	}
	colo_fleece_layout(&m->l, bdev_nr_sectors(fl->buffer->bdev),
			   fl->nr_chunks, fl->chunk_shift);
	if (!fl->reattach) {
		if (!m->l.nr_slots) {
			*error = "Buffer device is too small for the map and one chunk";
			return -EINVAL;
		}
		fl->nr_slots = m->l.nr_slots;
		fl->data_start = m->l.data_start;
		return 0;
	}
	if (le64_to_cpu(h->magic) != COLO_FLEECE_MAGIC ||
	    le32_to_cpu(h->csum) != colo_meta_csum(h)) {
		*error = "The buffer holds no persistent fleece";
		return -EINVAL;
	}
	if (le32_to_cpu(h->version) != COLO_FLEECE_VERSION || h->flags) {
		*error = "The buffer's fleece has an unsupported version";
		return -EINVAL;
	}
	colo_fleece_place(&m->l, fl->nr_chunks, le64_to_cpu(h->nr_slots),
			  fl->chunk_shift);
	if (le64_to_cpu(h->dev_sectors) != fl->ti->len ||
	    le32_to_cpu(h->chunk_sectors) != 1U << fl->chunk_shift ||
	    le64_to_cpu(h->nr_chunks) != fl->nr_chunks ||
	    le64_to_cpu(h->table_start) != m->l.table_start ||
	    le64_to_cpu(h->gone_start) != m->l.gone_start ||
	    le64_to_cpu(h->data_start) != m->l.data_start ||
	    !m->l.nr_slots || m->l.nr_slots > fl->nr_chunks ||
	    m->l.data_start + (m->l.nr_slots << fl->chunk_shift) >
	    bdev_nr_sectors(fl->buffer->bdev)) {
		*error = "The buffer's fleece has another geometry";
		return -EINVAL;
	}
	if (colo_meta_fleece(cc) != le64_to_cpu(h->instance)) {
		*error = "Base was written without this fleece since: cannot re-attach";
		return -ESTALE;
	}
	fl->instance = le64_to_cpu(h->instance);
	fl->nr_slots = m->l.nr_slots;
	fl->data_start = m->l.data_start;
	return 0;
}

/* Read or write the whole table and gone bits, from or to the images. */
static int map_io(struct colo_fleece *fl, blk_opf_t opf)
{
	struct colo_fleece_map *m = fl->map;
	int r;

	r = buffer_io(fl, opf, m->l.table_start, m->table,
		      m->l.table_blocks * COLO_FLEECE_BLOCK_SECTORS);
	if (!r)
		r = buffer_io(fl, opf, m->l.gone_start, m->gone,
			      m->l.gone_blocks * COLO_FLEECE_BLOCK_SECTORS);
	return r;
}

/* Lay a new map out: zero table and gone bits, then the header. */
static int map_create(struct colo_fleece *fl)
{
	struct colo_fleece_map *m = fl->map;
	struct colo_fleece_header *h = m->block;
	int r;

	r = map_io(fl, REQ_OP_WRITE);
	if (r)
		return r;
	do {
		fl->instance = get_random_u64();
	} while (!fl->instance);
	memset(h, 0, COLO_FLEECE_BLOCK_SIZE);
	h->version = cpu_to_le32(COLO_FLEECE_VERSION);
	h->magic = cpu_to_le64(COLO_FLEECE_MAGIC);
	h->instance = cpu_to_le64(fl->instance);
	h->dev_sectors = cpu_to_le64(fl->ti->len);
	h->chunk_sectors = cpu_to_le32(1U << fl->chunk_shift);
	h->nr_chunks = cpu_to_le64(fl->nr_chunks);
	h->nr_slots = cpu_to_le64(m->l.nr_slots);
	h->table_start = cpu_to_le64(m->l.table_start);
	h->gone_start = cpu_to_le64(m->l.gone_start);
	h->data_start = cpu_to_le64(m->l.data_start);
	h->csum = cpu_to_le32(colo_meta_csum(h));
	/* The zeroed map is durable before the header that names it. */
	return buffer_io(fl, REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, 0, h,
			 COLO_FLEECE_BLOCK_SECTORS);
}

/*
 * Read the map back into the fleece's state: the gone chunks released,
 * each other chunk a slot names saved in it. Nothing else runs yet.
 */
static int map_load(struct colo_fleece *fl, char **error)
{
	struct colo_fleece_map *m = fl->map;
	u64 c, s, e;
	int r;

	r = map_io(fl, REQ_OP_READ);
	if (r) {
		*error = "Cannot read the buffer's map";
		return r;
	}
	for (c = 0; c < fl->nr_chunks; c++) {
		if (!test_bit_le(c, m->gone))
			continue;
		r = colo_bitmap_prepare(&fl->released, c, GFP_KERNEL);
		if (r)
			goto nomem;
		__set_bit(c, fl->gone);
		colo_bitmap_set(&fl->released, c);
		atomic64_inc(&fl->nr_released);
	}
	for (s = 0; s < m->l.nr_slots; s++) {
		e = le64_to_cpu(m->table[s]);
		if (!e)
			continue;
		c = e - 1;
		if (c >= fl->nr_chunks || colo_fleece_slot(fl, c, &e)) {
			*error = "The buffer's map is corrupted";
			return -EINVAL;
		}
		if (test_bit(c, fl->gone))
			continue;
		r = colo_bitmap_prepare(&fl->saved, c, GFP_KERNEL);
		if (!r)
			r = xa_err(xa_store_irq(&fl->slots, c, xa_mk_value(s),
						GFP_KERNEL));
		if (r)
			goto nomem;
		colo_slots_take(&fl->free, s);
		colo_bitmap_set(&fl->saved, c);
		atomic64_inc(&fl->nr_saved);
	}
	return 0;
nomem:
	*error = "Cannot allocate the map read back";
	return -ENOMEM;
}

/*
 * After colo_fleece_init(): the images, and the map on the buffer, new or
 * read back. Process context.
 */
int colo_fleece_map_open(struct colo_fleece *fl, char **error)
{
	struct colo_fleece_map *m = fl->map;
	size_t bytes;
	int r;

	bytes = m->l.table_blocks * COLO_FLEECE_BLOCK_SIZE;
	m->table = kvzalloc(bytes, GFP_KERNEL);
	bytes = m->l.gone_blocks * COLO_FLEECE_BLOCK_SIZE;
	m->gone = kvzalloc(bytes, GFP_KERNEL);
	fl->gone = kvcalloc(BITS_TO_LONGS(fl->nr_chunks),
			    sizeof(unsigned long), GFP_KERNEL);
	m->table_dirty = bitmap_zalloc(m->l.table_blocks, GFP_KERNEL);
	m->gone_dirty = bitmap_zalloc(m->l.gone_blocks, GFP_KERNEL);
	if (!m->table || !m->gone || !fl->gone || !m->table_dirty ||
	    !m->gone_dirty) {
		*error = "Cannot allocate the persistent map";
		return -ENOMEM;
	}
	if (fl->reattach)
		return map_load(fl, error);
	r = map_create(fl);
	if (r)
		*error = "Cannot write the map to the buffer";
	return r;
}

/* Slot @slot holds @chunk from now on. fl->lock held; any context. */
void colo_fleece_map_set(struct colo_fleece *fl, u64 slot, u64 chunk)
{
	struct colo_fleece_map *m = fl->map;

	m->table[slot] = cpu_to_le64(chunk + 1);
	__set_bit(div_u64(slot, COLO_FLEECE_ENTRIES), m->table_dirty);
}

/* @chunk leaves the view. fl->lock held; any context. */
void colo_fleece_map_gone(struct colo_fleece *fl, u64 chunk)
{
	struct colo_fleece_map *m = fl->map;

	__set_bit_le(chunk, m->gone);
	__set_bit(div_u64(chunk, COLO_FLEECE_BITS), m->gone_dirty);
}

/* Write block @b of the image at @image to @start: the copy under fl->lock. */
static int write_block(struct colo_fleece *fl, unsigned long *dirty, u64 b,
		       const u8 *image, sector_t start)
{
	struct colo_fleece_map *m = fl->map;

	spin_lock_irq(&fl->lock);
	__clear_bit(b, dirty);
	memcpy(m->block, image + b * COLO_FLEECE_BLOCK_SIZE,
	       COLO_FLEECE_BLOCK_SIZE);
	spin_unlock_irq(&fl->lock);
	return buffer_io(fl, REQ_OP_WRITE | REQ_FUA,
			 start + b * COLO_FLEECE_BLOCK_SECTORS, m->block,
			 COLO_FLEECE_BLOCK_SECTORS);
}

/*
 * Write what changed in the map, after a flush of the buffer: once this
 * returns 0, every entry and gone bit set before it was called is on disk,
 * after the data written before it. @gone is called, in process context,
 * for each chunk whose gone bit is on disk from this commit on (and
 * fl->gone has it). An error breaks the fleece (the caller). Sleeps.
 */
int colo_fleece_map_commit(struct colo_fleece *fl,
			   void (*gone)(struct colo_fleece *fl, u64 chunk))
{
	struct colo_fleece_map *m = fl->map;
	u64 b, c, end;
	int r;

	mutex_lock(&m->commit_lock);
	r = blkdev_issue_flush(fl->buffer->bdev);
	for (b = find_first_bit(m->table_dirty, m->l.table_blocks);
	     !r && b < m->l.table_blocks;
	     b = find_next_bit(m->table_dirty, m->l.table_blocks, b + 1))
		r = write_block(fl, m->table_dirty, b, (const u8 *)m->table,
				m->l.table_start);
	for (b = find_first_bit(m->gone_dirty, m->l.gone_blocks);
	     !r && b < m->l.gone_blocks;
	     b = find_next_bit(m->gone_dirty, m->l.gone_blocks, b + 1)) {
		r = write_block(fl, m->gone_dirty, b, m->gone,
				m->l.gone_start);
		if (r)
			break;
		/* What this block put on disk: m->block, as written. */
		end = min_t(u64, COLO_FLEECE_BITS,
			    fl->nr_chunks - b * COLO_FLEECE_BITS);
		for (c = find_next_bit_le(m->block, end, 0); c < end;
		     c = find_next_bit_le(m->block, end, c + 1)) {
			if (test_and_set_bit(b * COLO_FLEECE_BITS + c,
					     fl->gone))
				continue;
			gone(fl, b * COLO_FLEECE_BITS + c);
		}
	}
	mutex_unlock(&m->commit_lock);
	return r;
}
