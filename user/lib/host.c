// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What the process finds around it: bpffs under the pin root (mounted, or
 * the host's mount namespace entered), and the capabilities it keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include "internal.h"

int ctaccel_bpffs_ensure(struct ctaccel *h)
{
	char parent[PATH_MAX];
	struct statfs st;

	snprintf(parent, sizeof(parent), "%s", h->root);
	dirname(parent);
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(parent, "/sys/fs/bpf")) {
		pr_warn(h, "%s: not on a bpf filesystem", parent);
		return -ENOTSUP;
	}
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return lib_fail(h, -errno, "mount bpffs on /sys/fs/bpf");
	return 0;
}

/* The parent of pid, from /proc/PID/stat, or 0. */
static int parent_of(int pid)
{
	char path[64], buf[512], *rp;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses. */
	if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
		sscanf(rp + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* Whether pid's mount namespace differs from ours and has bpffs at parent. */
static bool mounts_there(int pid, const struct stat *self_ns, const char *parent)
{
	char path[PATH_MAX + 32];
	struct stat ns;
	struct statfs st;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if (stat(path, &ns) || ns.st_ino == self_ns->st_ino)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, parent);
	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int enter_mounts_of(int pid)
{
	char path[64];
	int fd, cwd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* setns moves the working directory to the new root: keep ours, so
	 * that relative paths (a --config FILE) still mean what they meant. */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (setns(fd, CLONE_NEWNS))
		err = -errno;
	else if (cwd >= 0 && fchdir(cwd))
		err = -errno;
	close(fd);
	if (cwd >= 0)
		close(cwd);
	return err ?: 1;
}

int ctaccel_host_mounts(const char *pin_root)
{
	char parent[PATH_MAX];
	struct stat self_ns;
	struct statfs st;
	int pid, depth;

	snprintf(parent, sizeof(parent), "%s", pin_root ? pin_root : CTACCEL_PIN_DEFAULT);
	dirname(parent);
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0; /* visible here */
	if (stat("/proc/self/ns/mnt", &self_ns))
		return 0;
	/* `ip netns exec` unshared the mount namespace in this very process:
	 * the caller (a shell, a unit's ExecStart wrapper) still has the host's.
	 * Then PID 1's, where it may be read. */
	for (pid = parent_of(getpid()), depth = 0; pid > 1 && depth < 32;
	     pid = parent_of(pid), depth++)
		if (mounts_there(pid, &self_ns, parent))
			return enter_mounts_of(pid);
	if (mounts_there(1, &self_ns, parent))
		return enter_mounts_of(1);
	return 0; /* nowhere better: what is here is used */
}

/*
 * Keep only the capabilities in `keep`, for good: they leave the bounding set
 * too, and exec can grant no more. Run once the privileged part (loading,
 * pinning, attaching) is over.
 */
int ctaccel_caps_keep_only(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	int cap;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	/* Dropping from the bounding set takes CAP_SETPCAP, which a unit may
	 * not grant; no_new_privs below closes the same door (exec). */
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EPERM)
			return -errno;
	data[0].effective &= (uint32_t)keep;
	data[0].permitted &= (uint32_t)keep;
	data[0].inheritable = 0;
	data[1].effective &= (uint32_t)(keep >> 32);
	data[1].permitted &= (uint32_t)(keep >> 32);
	data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
