/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the metadata device (README "Metadata device"). The on-disk
 * format is in dm-colo-format.h; the pure encoding and checks of a block
 * are in dm-colo-meta-format.c, the I/O and the state in dm-colo-meta.c,
 * the write-intent marks in dm-colo-meta-marks.c.
 *
 * What is on disk, and when it is written:
 *  - the superblock: at initialisation, failover, the end of the failover
 *    commit, when the dirty bitmap's coverage changes, and when a
 *    persistent fleece starts or base is first written without it
 *    (colo_meta_set_fleece());
 *  - the overlay maps, at failover (the blocks with a bit set) and as the
 *    commit progresses (colo_meta_sync(): base flushed first);
 *  - the write-intent region bitmap, in primary mode: a region's mark is
 *    durable before a write to it is sent (colo_meta_write_begin()), and
 *    cleared lazily once the region is on the replica and idle.
 * A checkpoint writes nothing.
 *
 * Locking contract:
 *  - colo_meta_write_begin(), colo_meta_write_end(), colo_meta_copy_get(),
 *    colo_meta_copy_put(), colo_meta_chunk_left() and
 *    colo_meta_sync_needed() take no sleeping lock: safe from map and, but
 *    for write_begin, from interrupt context; so does
 *    colo_meta_flush_failed(), which only asks the tick to run.
 *  - Everything else may sleep; metadata writes are serialized by the
 *    metadata's io_lock, which is taken inside msg_lock and never around
 *    a wait for VM I/O.
 *  - A metadata write that fails puts the metadata in the failed state
 *    (status, a dm event): I/O goes on without it, nothing waits for it.
 */
#ifndef DM_COLO_META_H
#define DM_COLO_META_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/types.h>

#include "dm-colo-format.h"

struct colo_c;
struct colo_io;

/* Block encoding and checks (dm-colo-meta-format.c), pure. */
u32 colo_meta_csum(const void *block);
void colo_meta_seal(void *block, enum colo_meta_kind kind, u64 blocknr,
		    u64 instance, u64 seq, u64 generation);
int colo_meta_check_slot(const void *block, enum colo_meta_kind kind,
			 u64 blocknr, u64 instance);
bool colo_meta_block_zero(const void *block);
int colo_meta_check_super(const struct colo_meta_super *sb,
			  const struct colo_meta_layout *want,
			  u64 dev_sectors, unsigned int chunk_shift,
			  unsigned int region_shift, u64 meta_blocks,
			  char **error);
int colo_meta_pick(const void *slot0, int check0, const void *slot1,
		   int check1);

/* The state (dm-colo-meta.c). */
int colo_meta_open(struct colo_c *cc, struct dm_dev *dev,
		   unsigned int region_shift, bool recover, char **error);
void colo_meta_close(struct colo_c *cc);
void colo_meta_reread(struct colo_c *cc);
void colo_meta_suspend(struct colo_c *cc);
void colo_meta_resume(struct colo_c *cc);

bool colo_meta_write_begin(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io);
void colo_meta_write_end(struct colo_c *cc, struct colo_io *io);
void colo_meta_copy_get(struct colo_c *cc, u64 chunk);
void colo_meta_copy_put(struct colo_c *cc, u64 chunk);
int colo_meta_mark_chunks(struct colo_c *cc, u64 first, u64 last);
int colo_meta_flush_marks(struct colo_c *cc);
void colo_meta_flush_failed(struct colo_c *cc);

void colo_meta_failover(struct colo_c *cc, u64 pending);
void colo_meta_chunk_left(struct colo_c *cc, u64 chunk);
bool colo_meta_sync_needed(struct colo_c *cc);
int colo_meta_sync(struct colo_c *cc);
void colo_meta_commit_done(struct colo_c *cc);
void colo_meta_gap_changed(struct colo_c *cc);
int colo_meta_gap_sync(struct colo_c *cc, unsigned int gap);
u64 colo_meta_fleece(struct colo_c *cc);
int colo_meta_set_fleece(struct colo_c *cc, u64 instance);

void colo_meta_carry(struct colo_c *from, struct colo_c *to);
void colo_meta_status(struct colo_c *cc, char *result, unsigned int maxlen,
		      unsigned int *sz);

#endif /* DM_COLO_META_H */
