/* sockio.bpf.h -- what programs on the socket layer's tracepoints share: the syscall the thread is in, its arguments, and a socket's file. */
#ifndef LLMTAP_SOCKIO_BPF_H
#define LLMTAP_SOCKIO_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/*
 * sock_send_length and sock_recv_length fire inside the syscall that moves
 * the bytes, with the socket but not the buffer. The thread's user
 * registers (saved at the syscall's entry) still say which syscall it is
 * (orig_ax) and hold its arguments: the buffer, or the msghdr, is there to
 * read. Reading them costs nothing at any syscall's entry, which a syscall
 * tracepoint would: attaching one puts every thread on the host on the
 * kernel's slow syscall path.
 */

#define MSG_PEEK_	2

/* The syscalls whose socket I/O is read (x86-64 numbers). */
#if defined(__TARGET_ARCH_x86)
#define NR_READ		0
#define NR_WRITE	1
#define NR_READV	19
#define NR_WRITEV	20
#define NR_SENDTO	44
#define NR_RECVFROM	45
#define NR_SENDMSG	46
#define NR_RECVMSG	47
#define NR_SENDMMSG	307
#else
#error "sockio.bpf.h: syscall numbers for this architecture"
#endif

/* The current thread's user registers (its syscall number in orig_ax). */
static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The inode number of the file of socket sk (a tp_btf argument: read
 * directly, no helper call), or 0 when it has none: a kernel socket (NFS,
 * iSCSI...) sending on behalf of whoever runs, never a process's own. */
static __always_inline __u64 sk_file_ino(struct sock *sk)
{
	struct socket *so = sk->sk_socket;
	struct file *f;

	if (!so)
		return 0;
	f = so->file;
	if (!f)
		return 0;
	return f->f_inode->i_ino;
}

#endif
