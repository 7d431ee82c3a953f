/* cslazy.c -- capstone only while something decodes: the cs_* functions the decoders call, forwarded to libcapstone opened at the first cs_open() and closed after the last cs_close(). */
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "base/util.h"

/*
 * Why. libcapstone's tables are relocated when it is loaded: ~5 MB that
 * stay resident for good although decoding happens only while probes are
 * placed and executables scanned (capture/x86dec.c, capture/xdec.c). The
 * binary is linked without -lcapstone; these definitions stand in for the
 * library's, open it (by its soname, from the header the code was built
 * with) when the first handle is opened and close it when the last handle
 * is closed, so an idle tracer does not carry it. The decoders are
 * unchanged: they open a handle, decode, close it.
 *
 * Threads. The main thread (placement) and the scan thread decode at the
 * same time, each with its own handle. The library is loaded and the
 * pointers below written only under lib_mu while no handle is open; a
 * thread that holds a handle got it after that (through lib_mu), so it
 * reads them without the lock.
 */

#define CS_STR_(x) #x
#define CS_STR(x) CS_STR_(x)
#define CS_SONAME "libcapstone.so." CS_STR(CS_API_MAJOR)

static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static void *lib;		/* dlopen() handle; NULL while unloaded */
static unsigned long lib_users;	/* capstone handles open */
static int lib_warned;

static struct {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	cs_err (*close)(csh *);
	cs_err (*option)(csh, cs_opt_type, size_t);
	cs_insn *(*malloc)(csh);
	void (*free)(cs_insn *, size_t);
	bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
	const char *(*reg_name)(csh, unsigned int);
} fn;

/* Load the library and resolve fn. Call with lib_mu held and lib NULL.
 * Returns 0, or -1 (warned once). */
static int lib_load(void)
{
	void *h = dlopen(CS_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		goto out_warn;
	*(void **)&fn.open = dlsym(h, "cs_open");
	*(void **)&fn.close = dlsym(h, "cs_close");
	*(void **)&fn.option = dlsym(h, "cs_option");
	*(void **)&fn.malloc = dlsym(h, "cs_malloc");
	*(void **)&fn.free = dlsym(h, "cs_free");
	*(void **)&fn.disasm_iter = dlsym(h, "cs_disasm_iter");
	*(void **)&fn.reg_name = dlsym(h, "cs_reg_name");
	if (!fn.open || !fn.close || !fn.option || !fn.malloc || !fn.free || !fn.disasm_iter ||
	    !fn.reg_name) {
		dlclose(h);
		memset(&fn, 0, sizeof(fn));
		goto out_warn;
	}
	lib = h;
	return 0;

out_warn:
	if (!lib_warned++)
		log_warn("cannot load %s (instruction decoding): %s", CS_SONAME, dlerror());
	return -1;
}

/* Stand-ins for capstone's functions, same contracts (capstone/capstone.h). */
cs_err cs_open(cs_arch arch, cs_mode mode, csh *handle)
{
	cs_err err;

	pthread_mutex_lock(&lib_mu);
	if (!lib && lib_load()) {
		pthread_mutex_unlock(&lib_mu);
		return CS_ERR_MEM;
	}
	err = fn.open(arch, mode, handle);
	if (err == CS_ERR_OK)
		lib_users++;
	else if (!lib_users) {
		dlclose(lib);
		lib = NULL;
	}
	pthread_mutex_unlock(&lib_mu);
	return err;
}

cs_err cs_close(csh *handle)
{
	cs_err err;

	pthread_mutex_lock(&lib_mu);
	if (!lib) {
		pthread_mutex_unlock(&lib_mu);
		return CS_ERR_CSH;
	}
	err = fn.close(handle);
	if (err == CS_ERR_OK && lib_users && !--lib_users) {
		/* the last handle: give the library's pages back */
		dlclose(lib);
		lib = NULL;
		memset(&fn, 0, sizeof(fn));
	}
	pthread_mutex_unlock(&lib_mu);
	return err;
}

cs_err cs_option(csh handle, cs_opt_type type, size_t value)
{
	return fn.option(handle, type, value);
}

cs_insn *cs_malloc(csh handle)
{
	return fn.malloc(handle);
}

void cs_free(cs_insn *insn, size_t count)
{
	fn.free(insn, count);
}

bool cs_disasm_iter(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
		    cs_insn *insn)
{
	return fn.disasm_iter(handle, code, size, address, insn);
}

const char *cs_reg_name(csh handle, unsigned int reg_id)
{
	return fn.reg_name(handle, reg_id);
}
