// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The state lock: an flock on the pin root, taken for every change to one
 * pinned state, with or without a limit on the wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "internal.h"

/* Whether fd is still the directory at the root's path (not removed and
 * made anew by an unload between our open and our flock). */
static bool lock_current(const struct ctaccel *h, int fd)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat(h->root, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* flock() on fd, for at most timeout_ms (negative: as long as it takes). */
static int flock_within(int fd, int timeout_ms)
{
	struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
	int waited = 0;

	if (timeout_ms < 0)
		return flock(fd, LOCK_EX) ? -errno : 0;
	for (;;) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= timeout_ms)
			return -EWOULDBLOCK;
		nanosleep(&pause, NULL);
		waited += 10;
	}
}

int ctaccel_lock_wait(struct ctaccel *h, int timeout_ms)
{
	int fd, tries, err;

	if (h->lock_fd >= 0)
		return 0;
	for (tries = 0; tries < 100; tries++) {
		if (mkdir(h->root, 0700) && errno != EEXIST)
			return lib_fail(h, -errno, "lock %s", h->root);
		fd = open(h->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* removed by an unload meanwhile */
			return lib_fail(h, -errno, "lock %s", h->root);
		}
		err = flock_within(fd, timeout_ms);
		if (err) {
			close(fd);
			if (err != -EWOULDBLOCK)
				return lib_fail(h, err, "lock %s", h->root);
			/* not a failure of this handle: another writer's turn */
			pr_debug(h, "lock %s: held by another ctaccel for %d ms", h->root,
				 timeout_ms);
			return err;
		}
		if (lock_current(h, fd)) {
			h->lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	return lib_fail(h, -EAGAIN, "lock %s", h->root);
}

int ctaccel_lock(struct ctaccel *h)
{
	return ctaccel_lock_wait(h, -1);
}

void ctaccel_unlock(struct ctaccel *h)
{
	if (h->lock_fd < 0)
		return;
	/* The directory the lock made, if nothing was pinned into it. Waiters
	 * on it notice and take the new one. */
	rmdir(h->root);
	close(h->lock_fd); /* releases the flock */
	h->lock_fd = -1;
}
