// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: is one block device stacked on another? See dm-colo-stack.h.
 *
 * A breadth-first walk of /sys/class/block/<name>/slaves from the top
 * device down, by kernel device name (unique in /sys/class/block).
 */
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-colo-stack.h"

/* Devices looked at in one walk, the top included; more is refused. */
#define STACK_MAX_DEVICES	64

struct stack_walk {
	struct dir_context ctx;
	char names[STACK_MAX_DEVICES][BDEVNAME_SIZE];
	unsigned int nr;	/* names queued */
	bool overflow;		/* a name did not fit */
};

/* Queue @name unless it is queued already. */
static bool queue_name(struct stack_walk *w, const char *name, int len)
{
	unsigned int i;

	if (len <= 0 || len >= BDEVNAME_SIZE) {
		w->overflow = true;
		return false;
	}
	for (i = 0; i < w->nr; i++)
		if (!strncmp(w->names[i], name, len) && !w->names[i][len])
			return true;
	if (w->nr == STACK_MAX_DEVICES) {
		w->overflow = true;
		return false;
	}
	memcpy(w->names[w->nr], name, len);
	w->names[w->nr][len] = '\0';
	w->nr++;
	return true;
}

static bool slave_actor(struct dir_context *ctx, const char *name, int len,
			loff_t offset, u64 ino, unsigned int type)
{
	struct stack_walk *w = container_of(ctx, struct stack_walk, ctx);

	if (name[0] == '.')
		return true;
	return queue_name(w, name, len);
}

/*
 * Queue the slaves of the device @name. A device without a "slaves"
 * directory (a partition, say) has none; a device that is not in
 * /sys/class/block at all means sysfs is not where we look: -ENOENT.
 */
static int queue_slaves(struct stack_walk *w, const char *name)
{
	char path[sizeof("/sys/class/block//slaves") + BDEVNAME_SIZE];
	struct file *dir;
	int r;

	snprintf(path, sizeof(path), "/sys/class/block/%s", name);
	dir = filp_open(path, O_RDONLY | O_DIRECTORY, 0);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	filp_close(dir, NULL);

	snprintf(path, sizeof(path), "/sys/class/block/%s/slaves", name);
	dir = filp_open(path, O_RDONLY | O_DIRECTORY, 0);
	if (IS_ERR(dir))
		return PTR_ERR(dir) == -ENOENT ? 0 : PTR_ERR(dir);
	r = iterate_dir(dir, &w->ctx);
	filp_close(dir, NULL);
	return r;
}

/*
 * Is @bdev @top itself, or one of the devices @top is stacked on? Returns
 * 1 (yes), 0 (no), or a negative error when the stack could not be read
 * whole (sysfs not mounted at /sys, a stack of more than STACK_MAX_DEVICES
 * devices): the caller must then refuse, it cannot know.
 */
int colo_stack_contains(struct block_device *top, struct block_device *bdev)
{
	char want[BDEVNAME_SIZE];
	struct stack_walk *w;
	unsigned int i;
	int r = 0;

	if (top == bdev)
		return 1;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	w->ctx.actor = slave_actor;
	snprintf(want, sizeof(want), "%pg", bdev);
	snprintf(w->names[0], sizeof(w->names[0]), "%pg", top);
	w->nr = 1;

	for (i = 0; i < w->nr && !r; i++) {
		if (!strcmp(w->names[i], want)) {
			r = 1;
			break;
		}
		w->ctx.pos = 0;
		r = queue_slaves(w, w->names[i]);
		if (!r && w->overflow)
			r = -E2BIG;
	}
	kfree(w);
	return r;
}
