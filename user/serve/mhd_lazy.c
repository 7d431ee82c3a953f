/* mhd_lazy.c -- libmicrohttpd loaded only when --listen serves: the MHD_* functions serve/ calls, forwarded to libmicrohttpd opened at MHD_start_daemon(). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "base/util.h"

/*
 * Why. libmicrohttpd brings GnuTLS and its helpers (~2 MB resident) into
 * every tracer, although only a run with --listen serves anything. The
 * binary is linked without -lmicrohttpd; these definitions stand in for
 * the library's and open it (by its soname) at MHD_start_daemon(), the
 * first call serve/listen.c makes. It stays loaded from then on.
 * MHD_start_daemon()'s options are handed on through the library's own
 * va_list entry point; MHD_get_connection_info() is asked only for kinds
 * that take no argument after the kind.
 */

#define MHD_SONAME "libmicrohttpd.so.12"

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static struct {
	struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback,
					      void *, MHD_AccessHandlerCallback, void *, va_list);
	void (*stop_daemon)(struct MHD_Daemon *);
	MHD_socket (*quiesce_daemon)(struct MHD_Daemon *);
	struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
							    enum MHD_ResponseMemoryMode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
	void (*destroy_response)(struct MHD_Response *);
	enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
					  struct MHD_Response *);
	const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind,
					       const char *);
	const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *,
							       enum MHD_ConnectionInfoType, ...);
	int ok;			/* every pointer resolved */
} fn;

/* pthread_once() body: open libmicrohttpd and resolve fn (fn.ok 0 on failure, said once). */
static void lib_load(void)
{
	void *h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_warn("listen: cannot load %s: %s", MHD_SONAME, dlerror());
		return;
	}
	*(void **)&fn.start_daemon_va = dlsym(h, "MHD_start_daemon_va");
	*(void **)&fn.stop_daemon = dlsym(h, "MHD_stop_daemon");
	*(void **)&fn.quiesce_daemon = dlsym(h, "MHD_quiesce_daemon");
	*(void **)&fn.create_response_from_buffer = dlsym(h, "MHD_create_response_from_buffer");
	*(void **)&fn.add_response_header = dlsym(h, "MHD_add_response_header");
	*(void **)&fn.destroy_response = dlsym(h, "MHD_destroy_response");
	*(void **)&fn.queue_response = dlsym(h, "MHD_queue_response");
	*(void **)&fn.lookup_connection_value = dlsym(h, "MHD_lookup_connection_value");
	*(void **)&fn.get_connection_info = dlsym(h, "MHD_get_connection_info");
	fn.ok = fn.start_daemon_va && fn.stop_daemon && fn.quiesce_daemon &&
		fn.create_response_from_buffer && fn.add_response_header && fn.destroy_response &&
		fn.queue_response && fn.lookup_connection_value && fn.get_connection_info;
	if (!fn.ok)
		log_warn("listen: %s lacks a function llmtap calls", MHD_SONAME);
}

/* 1 when libmicrohttpd is loaded (loading it the first time). */
static int lib(void)
{
	pthread_once(&lib_once, lib_load);
	return fn.ok;
}

/* Stand-ins for libmicrohttpd's functions, same contracts (microhttpd.h).
 * Only MHD_start_daemon() can be the first call; the others are made on a
 * daemon or a connection it gave. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
				    MHD_AcceptPolicyCallback apc, void *apc_cls,
				    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (!lib())
		return NULL;
	va_start(ap, dh_cls);
	d = fn.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *d)
{
	if (lib())
		fn.stop_daemon(d);
}

MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *d)
{
	return lib() ? fn.quiesce_daemon(d) : MHD_INVALID_SOCKET;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
						     enum MHD_ResponseMemoryMode mode)
{
	return lib() ? fn.create_response_from_buffer(size, buffer, mode) : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *header,
					const char *content)
{
	return lib() ? fn.add_response_header(r, header, content) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *r)
{
	if (lib())
		fn.destroy_response(r);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status,
				   struct MHD_Response *r)
{
	return lib() ? fn.queue_response(c, status, r) : MHD_NO;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind,
					const char *key)
{
	return lib() ? fn.lookup_connection_value(c, kind, key) : NULL;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *c,
							enum MHD_ConnectionInfoType type, ...)
{
	return lib() ? fn.get_connection_info(c, type) : NULL;
}
