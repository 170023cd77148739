// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * A migration's record below the pin root (CTACCEL_PIN_MIGRATION): what a
 * process killed mid-way leaves for the one that finishes it
 * (migrate_resume(), migrate.c; docs/upgrading.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"

/*
 * The migration's record: a directory below the root that holds, under
 * their rows' names, every map the migration's programs use in place of a
 * pinned one (the new table, ring and head, counters where their layout
 * changes, a map the older state lacks), the table being left (FLOWS_PREV)
 * and the journal (JOURNAL). It is made before any program is swapped and
 * removed when the final programs are in: a process killed in between
 * leaves everything the next migration needs to finish it
 * (migrate_resume()), while the migration's programs count every packet.
 */
static bool record_row(int i)
{
	return pin_defs[i].obj == PIN_OBJ_tracker && pin_defs[i].kind == PIN_KIND_MAP &&
	       pin_name(i) &&
	       (pin_defs[i].life == PIN_LIFE_KEEP || i == PIN_FLOWS_PREV || i == PIN_JOURNAL);
}

static int record_file(int i, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", CTACCEL_PIN_MIGRATION, pin_name(i)) >= len)
		return -ENAMETOOLONG;
	return 0;
}

bool migration_recorded(const struct ctaccel *h)
{
	char path[PATH_MAX];
	struct stat st;

	return !ctaccel_pin_file(h, CTACCEL_PIN_MIGRATION, path, sizeof(path)) &&
	       !stat(path, &st) && S_ISDIR(st.st_mode);
}

void migration_record_remove(struct ctaccel *h)
{
	char name[PATH_MAX];
	int i;

	for (i = 0; i < PIN__COUNT; i++)
		if (record_row(i) && !record_file(i, name, sizeof(name)))
			unpin(h, name);
	if (!ctaccel_pin_file(h, CTACCEL_PIN_MIGRATION, name, sizeof(name)))
		rmdir(name);
}

/* The record made: `fd[i]` for each of its rows that has one. */
int record_make(struct ctaccel *h, const int *fd)
{
	char name[PATH_MAX];
	int i, err = 0;

	if (ctaccel_pin_file(h, CTACCEL_PIN_MIGRATION, name, sizeof(name)))
		return lib_fail(h, -ENAMETOOLONG, "record the migration");
	if (mkdir(name, 0700))
		return lib_fail(h, -errno, "record the migration in %s", name);
	for (i = 0; i < PIN__COUNT && !err; i++)
		if (record_row(i) && fd[i] >= 0) {
			err = record_file(i, name, sizeof(name));
			err = err ?: pin_fd(h, fd[i], name);
		}
	if (err)
		migration_record_remove(h);
	return err;
}

/* The record's maps by row (-1 where it has none; fds the caller closes). */
int record_read(struct ctaccel *h, int *fd)
{
	char name[PATH_MAX];
	int i;

	for (i = 0; i < PIN__COUNT; i++) {
		fd[i] = -1;
		if (!record_row(i) || record_file(i, name, sizeof(name)))
			continue;
		fd[i] = pin_get_file(h, name);
		if (fd[i] < 0 && fd[i] != -ENOENT)
			return lib_fail(h, fd[i], "read the migration's record (%s)", name);
	}
	if (fd[PIN_FLOWS] < 0 || fd[PIN_FLOWS_PREV] < 0 || fd[PIN_JOURNAL] < 0 ||
	    fd[PIN_UNREPLIED] < 0 || fd[PIN_UNREPLIED_HEAD] < 0) {
		pr_warn(h,
			"the interrupted migration's record below %s/%s is incomplete: "
			"'ctaccel unload' and 'load' recover (every flow ends)",
			h->root, CTACCEL_PIN_MIGRATION);
		return -EPROTO;
	}
	return 0;
}

int journal_read(struct ctaccel *h, int fd, struct ctaccel_migrate_journal *j)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, j))
		return lib_fail(h, -errno, "read the migration's journal");
	return 0;
}
