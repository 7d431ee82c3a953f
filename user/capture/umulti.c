/* umulti.c -- uprobe_multi links, for one process or all, made with the bpf() syscall since libbpf 1.1 predates them. */
#include "capture/umulti.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* From the kernel's UAPI (Linux 6.6), which bookworm's headers predate. */
#define UMULTI_ATTACH 48	/* BPF_TRACE_UPROBE_MULTI */
#define UMULTI_RETURN 1u	/* BPF_F_UPROBE_MULTI_RETURN */

/* BPF_LINK_CREATE's attributes for a uprobe_multi link: the head every
 * link shares, then link_create.uprobe_multi. Bytes past these stay 0,
 * as the kernel asks of fields a command does not use. */
struct umulti_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t um_flags;
	uint32_t pid;
	uint32_t pad[17];	/* up to the 128 bytes of today's union bpf_attr */
};

int umulti_supported(void)
{
	struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = UMULTI_ATTACH);
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "umulti_probe", "GPL", ret0, 2, &po);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

void umulti_prepare(struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		const char *sec = bpf_program__section_name(p);

		/* SEC("uprobe") and SEC("uretprobe"): the ones capture/attach.c puts on files */
		if (bpf_program__type(p) == BPF_PROG_TYPE_KPROBE && sec &&
		    (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9)))
			bpf_program__set_expected_attach_type(p, UMULTI_ATTACH);
	}
}

int umulti_link(int prog_fd, const char *path, const uint64_t *offs, uint32_t n, int ret, pid_t pid)
{
	struct umulti_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (uint32_t)prog_fd;
	attr.attach_type = UMULTI_ATTACH;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)offs;
	attr.cnt = n;
	attr.um_flags = ret ? UMULTI_RETURN : 0;
	attr.pid = (uint32_t)pid;
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}
