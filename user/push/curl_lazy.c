/* curl_lazy.c -- libcurl loaded only when a push target needs it: the curl_* functions push/http.c calls, forwarded to libcurl opened at curl_global_init(). */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>

#include "base/util.h"

/*
 * Why. libcurl brings OpenSSL, GnuTLS, Kerberos, LDAP, SSH and their
 * helpers: ~5 MB resident in every tracer, although only a run with push
 * targets (--push) ever makes a request. The binary is linked without
 * -lcurl; these definitions stand in for libcurl's and open it (by its
 * soname) at curl_global_init(), which push/http.c calls before anything
 * else and only when there are targets. It stays loaded from then on.
 *
 * The variadic curl_easy_setopt()/curl_easy_getinfo() take one argument
 * after the option: a long, a pointer or a curl_off_t, all passed in the
 * same integer register class on the ABIs llmtap builds for, so it is
 * forwarded as a pointer-sized integer without knowing which one it is.
 */

#define CURL_SONAME "libcurl.so.4"

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	int ok;			/* every pointer resolved */
} fn;

/* pthread_once() body: open libcurl and resolve fn (fn.ok 0 on failure, said once). */
static void lib_load(void)
{
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_warn("push: cannot load %s: %s", CURL_SONAME, dlerror());
		return;
	}
	*(void **)&fn.global_init = dlsym(h, "curl_global_init");
	*(void **)&fn.global_cleanup = dlsym(h, "curl_global_cleanup");
	*(void **)&fn.easy_init = dlsym(h, "curl_easy_init");
	*(void **)&fn.easy_cleanup = dlsym(h, "curl_easy_cleanup");
	*(void **)&fn.easy_reset = dlsym(h, "curl_easy_reset");
	*(void **)&fn.easy_perform = dlsym(h, "curl_easy_perform");
	*(void **)&fn.easy_setopt = dlsym(h, "curl_easy_setopt");
	*(void **)&fn.easy_getinfo = dlsym(h, "curl_easy_getinfo");
	*(void **)&fn.easy_strerror = dlsym(h, "curl_easy_strerror");
	*(void **)&fn.slist_append = dlsym(h, "curl_slist_append");
	*(void **)&fn.slist_free_all = dlsym(h, "curl_slist_free_all");
	fn.ok = fn.global_init && fn.global_cleanup && fn.easy_init && fn.easy_cleanup &&
		fn.easy_reset && fn.easy_perform && fn.easy_setopt && fn.easy_getinfo &&
		fn.easy_strerror && fn.slist_append && fn.slist_free_all;
	if (!fn.ok)
		log_warn("push: %s lacks a function llmtap calls", CURL_SONAME);
}

/* 1 when libcurl is loaded (loading it the first time). */
static int lib(void)
{
	pthread_once(&lib_once, lib_load);
	return fn.ok;
}

/* Stand-ins for libcurl's functions, same contracts (curl/curl.h). Without
 * the library they fail the way libcurl fails when out of resources. */
CURLcode curl_global_init(long flags)
{
	return lib() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (lib())
		fn.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return lib() ? fn.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (lib())
		fn.easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
	if (lib())
		fn.easy_reset(h);
}

CURLcode curl_easy_perform(CURL *h)
{
	return lib() ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	void *arg;

	if (!lib())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fn.easy_setopt(h, opt, arg);
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	void *arg;

	if (!lib())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fn.easy_getinfo(h, info, arg);
}

const char *curl_easy_strerror(CURLcode code)
{
	return lib() ? fn.easy_strerror(code) : "libcurl not loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return lib() ? fn.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (lib())
		fn.slist_free_all(list);
}
