/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: every difference between the kernels we build against (6.1 and
 * 6.12) lives here, so the rest of the code has no version checks. This is
 * the only file allowed to test LINUX_VERSION_CODE (scripts/lint.sh runs
 * checkpatch on it with that one check ignored).
 *
 * Test features, not versions, where the distribution backports: Debian's
 * 6.1.y already has the ioprio argument of dm_io() that mainline gained in
 * 6.9, so a version check would be wrong there. dm-colo copies with
 * dm-kcopyd, whose interface is the same on both kernels.
 */
#ifndef DM_COLO_COMPAT_H
#define DM_COLO_COMPAT_H

#include <linux/version.h>

#endif /* DM_COLO_COMPAT_H */
