/* privs.c -- what `llmtap run` keeps of root once its probes are attached: four capabilities in effect, one more only while it attaches, no new privileges, a seccomp filter.
 *
 * The tracer parses bytes that any local process controls, so after start
 * it keeps only what running needs (README "Privileges"):
 *   CAP_BPF, CAP_PERFMON     attach to executables and libraries that
 *                            appear later (BPF links on perf events), read
 *                            the BPF maps;
 *   CAP_SYS_PTRACE           read /proc/PID/maps, /proc/PID/exe and
 *                            /proc/PID/root of other users' processes, to
 *                            find what they map (containers included);
 *   CAP_DAC_READ_SEARCH      open those files wherever they are (a node under
 *                            a private home directory), read-only;
 *   CAP_SYS_ADMIN            permitted, not in effect: the kernel asks it to
 *                            create a uprobe (since Linux 6.15 CAP_PERFMON is
 *                            no longer enough), and to open a process's
 *                            /proc/PID/map_files entries, so it is raised
 *                            around those calls (privs_attach_begin/end) and
 *                            dropped again before any byte is parsed.
 * Everything else goes, from the bounding set too (an exec'd child can
 * never get it back); NoNewPrivs is set; and a seccomp filter refuses
 * (EPERM) the system calls that would turn the kept capabilities into more:
 * ptrace and process_vm_* (CAP_SYS_PTRACE is for reading /proc only),
 * open_by_handle_at (the CAP_DAC_READ_SEARCH escape), execve, BPF program
 * and map creation (everything is loaded already), module, mount,
 * namespace, keyring, clock, host name, fanotify, reboot and io_uring
 * calls. It is a deny list: an unforeseen call of glibc, SQLite or libcurl
 * never stops the capture.
 */
#include "privs.h"

#include <errno.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "base/util.h"

static const cap_value_t kept[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };
static const cap_value_t attach_cap[] = { CAP_SYS_ADMIN };	/* permitted, raised to attach */
static int dropped;		/* privs_drop() succeeded */

/* System calls refused after the drop (names libseccomp may not know on
 * this architecture are skipped). */
static const char *const denied[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
	"open_by_handle_at", "name_to_handle_at",
	"execve", "execveat", "uselib",
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "swapon", "swapoff",
	"unshare", "setns", "keyctl", "add_key", "request_key",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"reboot", "acct", "quotactl", "quotactl_fd", "iopl", "ioperm", "syslog", "vhangup",
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
	"setfsuid", "setfsgid", "personality", "sethostname", "setdomainname", "fanotify_init",
	"lookup_dcookie", "nfsservctl", "vm86", "vm86old", "mknod", "mknodat",
};

/* bpf() commands refused: nothing is loaded after start. */
static const int denied_bpf[] = { BPF_PROG_LOAD, BPF_MAP_CREATE, BPF_BTF_LOAD };

/* Keep only the capabilities of kept[], in every set. Returns 0, or -1. */
static int caps_drop(void)
{
	cap_value_t c;
	cap_t caps;
	size_t i;
	int rc;

	/* the bounding set (a unit's CapabilityBoundingSet= may have done it) */
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		int keep = c == attach_cap[0];

		for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
			keep |= kept[i] == c;
		if (keep || cap_get_bound(c) != 1 || !cap_drop_bound(c))
			continue;
		log_warn("privileges: cannot drop capability %d from the bounding set (%s): an "
			 "exec'd child could have it", c, strerror(errno));
		break;
	}
	caps = cap_init();
	if (!caps)
		return -1;
	rc = cap_set_flag(caps, CAP_EFFECTIVE, sizeof(kept) / sizeof(kept[0]), kept, CAP_SET) ||
	     cap_set_flag(caps, CAP_PERMITTED, sizeof(kept) / sizeof(kept[0]), kept, CAP_SET) ||
	     cap_set_flag(caps, CAP_PERMITTED, 1, attach_cap, CAP_SET) ||
	     cap_set_proc(caps);
	cap_free(caps);
	if (rc) {
		log_warn("privileges: cannot set capabilities: %s", strerror(errno));
		return -1;
	}
	cap_reset_ambient();
	return 0;
}

/* Load the deny-list filter on every thread. Returns 0, or -1. */
static int seccomp_apply(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	size_t i;
	int nr, rc = -1;

	if (!ctx)
		return -1;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1))
		goto out_release;
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0))
			goto out_release;
	}
	for (i = 0; i < sizeof(denied_bpf) / sizeof(denied_bpf[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(bpf), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)denied_bpf[i])))
			goto out_release;
	rc = seccomp_load(ctx);
	if (rc)
		log_warn("privileges: cannot load the seccomp filter: %s", strerror(-rc));
out_release:
	seccomp_release(ctx);
	return rc ? -1 : 0;
}

int privs_drop(void)
{
	if (caps_drop())
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		log_warn("privileges: cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (seccomp_apply())
		return -1;
	dropped = 1;
	log_debug("privileges: in effect CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH "
		  "(CAP_SYS_ADMIN only to attach); no_new_privs; seccomp deny list of %zu calls",
		  sizeof(denied) / sizeof(denied[0]));
	return 0;
}

/* Raise (set) or lower CAP_SYS_ADMIN in the calling thread's effective set. */
static void attach_cap_set(cap_flag_value_t v)
{
	cap_t caps;

	if (!dropped)
		return;		/* before the drop everything is in effect anyway */
	caps = cap_get_proc();
	if (!caps)
		return;
	if (cap_set_flag(caps, CAP_EFFECTIVE, 1, attach_cap, v) || cap_set_proc(caps))
		log_debug("privileges: cannot %s CAP_SYS_ADMIN: %s", v == CAP_SET ? "raise" : "lower",
			  strerror(errno));
	cap_free(caps);
}

void privs_attach_begin(void)
{
	attach_cap_set(CAP_SET);
}

void privs_attach_end(void)
{
	attach_cap_set(CAP_CLEAR);
}
