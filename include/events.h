/* events.h -- the BPF <-> userspace ABI: ring-buffer event layouts and shared constants. */
#ifndef LLMTAP_EVENTS_H
#define LLMTAP_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>	/* userspace; BPF gets the types from vmlinux.h */
#endif

/* Plaintext is copied in chunks of at most this many bytes; a larger
 * SSL_write/SSL_read becomes several ordered events. */
#define LT_CHUNK_MAX	(16 * 1024)
/* Chunks per SSL call; with LT_CHUNK_MAX this bounds one call at 8 MiB. */
#define LT_CHUNKS_MAX	512
#define LT_COMM_LEN	16
#define LT_PATH_MAX	256

enum lt_event_type {
	LT_EV_DATA = 1,		/* struct lt_data_event */
	LT_EV_SSL_FREE = 2,	/* struct lt_ctl_event: the SSL* was freed */
	LT_EV_EXEC = 3,		/* struct lt_exec_event: a process called execve */
	LT_EV_EXIT = 4,		/* struct lt_ctl_event: a whole process exited */
};

enum lt_dir {
	LT_DIR_WRITE = 0,	/* the process sent (SSL_write*) */
	LT_DIR_READ = 1,	/* the process received (SSL_read*) */
};

/* Common header of every event. */
struct lt_hdr {
	__u32 type;		/* enum lt_event_type */
	__u32 tgid;
	__u32 tid;
	__u32 pad;
	__u64 ts_ns;		/* CLOCK_MONOTONIC: SSL call entry (write) or return (read) */
};

/* One chunk of plaintext. Only hdr..data[len] is sent. */
struct lt_data_event {
	struct lt_hdr hdr;
	__u64 ssl;		/* SSL* : with tgid, the connection key */
	__u64 ts_end_ns;	/* CLOCK_MONOTONIC at the SSL call's return */
	__u64 offset;		/* stream offset of data[0] in this direction */
	__u32 len;		/* bytes in data */
	__u32 call_len;		/* bytes the whole SSL call moved */
	__u32 missing;		/* last chunk of a call over the cap: bytes after it not sent */
	__u8 dir;		/* enum lt_dir */
	__u8 pad[3];
	char comm[LT_COMM_LEN];
	char data[LT_CHUNK_MAX];
};

/* SSL_free or process exit. */
struct lt_ctl_event {
	struct lt_hdr hdr;
	__u64 ssl;		/* LT_EV_SSL_FREE only */
	__s32 exit_code;	/* LT_EV_EXIT only: task->exit_code */
	__u32 pad;
};

struct lt_exec_event {
	struct lt_hdr hdr;
	char comm[LT_COMM_LEN];
	char filename[LT_PATH_MAX];
};

/* Indexes of the per-CPU counters map "counters". */
enum lt_counter {
	LT_CNT_EVENTS = 0,	/* events submitted */
	LT_CNT_DROPS,		/* events lost: ring buffer full */
	LT_CNT_DROP_BYTES,	/* plaintext bytes in lost events */
	LT_CNT_READ_ERR,	/* bpf_probe_read_user failures */
	LT_CNT_TRUNC,		/* SSL calls larger than LT_CHUNKS_MAX chunks */
	LT_CNT_MAX,
};

#endif
