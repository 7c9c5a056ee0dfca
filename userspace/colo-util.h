/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COLO_UTIL_H
#define COLO_UTIL_H

#include <stdint.h>

/*
 * Parse a size: a number of bytes with an optional binary suffix
 * (k, m, g, t; case-insensitive, "KiB"/"K"/"k" alike) or "s" for 512-byte
 * sectors. Returns 0 and the size in bytes, or -1 on bad input or overflow.
 */
int colo_parse_size(const char *s, uint64_t *bytes);

/* Parse a chunk size: a size that is a power of two from 512 B to 1 MiB.
 * Returns 0 and the chunk in 512-byte sectors, or -1. */
int colo_parse_chunk(const char *s, unsigned int *sectors);

#endif
