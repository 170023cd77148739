// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bad on purpose: what the static analyzer (scan-build) must report, each line
 * marked "expect: analyzer". Never built into the product.
 */
#include <stdlib.h>
#include <string.h>

struct peer {
	int port;
	unsigned int count;
};

char *render(const void *o);

static int cmp_peer(const void *a, const void *b)
{
	return ((const struct peer *)a)->port - ((const struct peer *)b)->port;
}

/* The HTTP reply path: no object, no text, and strlen(NULL). */
size_t reply_length(const void *o)
{
	char *text = o ? render(o) : NULL;
	size_t n = strlen(text); /* expect: analyzer */

	free(text);
	return n;
}

/* A result read although the call that sets it did not. */
static int slot_of(int fd, unsigned int *slot)
{
	if (fd < 0)
		return -1;
	*slot = (unsigned int)fd;
	return 0;
}

int in_step(int fd, unsigned int pinned)
{
	unsigned int slot;

	slot_of(fd, &slot);
	return slot == pinned; /* expect: analyzer */
}

/* Sorted peers: a buffer lost on the error path. */
int sorted_peers(unsigned int n, struct peer **out)
{
	struct peer *p = calloc(n ? n : 1, sizeof(*p));

	if (!p)
		return -1;
	if (n > 65536)
		return -1; /* expect: analyzer */
	qsort(p, n, sizeof(*p), cmp_peer);
	*out = p;
	return 0;
}
