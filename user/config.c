/* config.c -- `llmtap run` options from a config file and the environment, under the command line's. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CONFIG_LINE_MAX 4096

/* Options the environment may set (LLMTAP_ + the name in capitals, '-' as '_'). */
static const char *const env_keys[] = {
	"db", "push", "push-batch", "push-interval", "push-ca", "push-bodies", "host-id",
	"retain-days", "max-db-mb", "max-body", "body-memory", "ring-size", "listen", "prices", "db-group",
	"max-disk-pct", "watch-path", "zombie-after", "stuck-after", "ingest-token", "ingest-max-body",
	"ingest-rate", "dns-probes", "spool-size",
};

struct kv {
	char *key, *val;
};

struct kvs {
	struct kv *v;
	int n;
};

static char *file_token;	/* push-token of the last config file read */

static void kvs_free(struct kvs *k)
{
	int i;

	for (i = 0; i < k->n; i++) {
		free(k->v[i].key);
		free(k->v[i].val);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

static int kvs_add(struct kvs *k, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct kv *v = realloc(k->v, (k->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	k->v = v;
	v[k->n].key = strndup(key, klen);
	v[k->n].val = strndup(val, vlen);
	if (!v[k->n].key || !v[k->n].val) {
		free(v[k->n].key);
		free(v[k->n].val);
		return -1;
	}
	k->n++;
	return 0;
}

static const char *trim(const char *s, size_t *n)
{
	while (*n && isspace((unsigned char)*s))
		s++, (*n)--;
	while (*n && isspace((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

/* Read "key = value" lines. Returns 0, -1 when the file cannot be read
 * (errno set), 2 on a malformed line (message printed). */
static int file_read(const char *path, struct kvs *out)
{
	char line[CONFIG_LINE_MAX];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *k, *v, *eq;
		size_t kl, vl, n = strlen(line);

		lineno++;
		k = trim(line, &n);
		if (!n || *k == '#' || *k == ';')
			continue;
		eq = memchr(k, '=', n);
		if (!eq) {
			fprintf(stderr, "llmtap: %s:%d: expected 'key = value'\n", path, lineno);
			fclose(f);
			return 2;
		}
		kl = eq - k;
		k = trim(k, &kl);
		vl = n - (eq + 1 - k);
		v = trim(eq + 1, &vl);
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
			v++, vl -= 2;
		if (!kl || kvs_add(out, k, kl, v, vl)) {
			fprintf(stderr, "llmtap: %s:%d: %s\n", path, lineno, kl ? "out of memory" : "empty key");
			fclose(f);
			return 2;
		}
	}
	fclose(f);
	return 0;
}

static const struct option *opt_by_name(const struct option *opts, const char *name, size_t n)
{
	const struct option *o, *hit = NULL;
	int hits = 0;

	for (o = opts; o->name; o++) {
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
		if (!strncmp(o->name, name, n)) {
			hit = o;
			hits++;
		}
	}
	return hits == 1 ? hit : NULL;	/* getopt_long takes a unique prefix too */
}

static const struct option *opt_by_val(const struct option *opts, int c)
{
	const struct option *o;

	for (o = opts; o->name; o++)
		if (!o->flag && o->val == c)
			return o;
	return NULL;
}

/* Is the option named name on the command line? */
static int in_argv(int argc, char **argv, const struct option *opts, const char *name)
{
	const struct option *o;
	int i;
	size_t j;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (!strncmp(a, "--", 2)) {
			o = opt_by_name(opts, a + 2, strcspn(a + 2, "="));
			if (o && !strcmp(o->name, name))
				return 1;
			if (o && o->has_arg == required_argument && !strchr(a, '='))
				i++;
			continue;
		}
		if (a[0] != '-' || !a[1])
			continue;
		for (j = 1; a[j]; j++) {
			o = opt_by_val(opts, (unsigned char)a[j]);
			if (o && !strcmp(o->name, name))
				return 1;
			if (o && o->has_arg == required_argument) {
				if (!a[j + 1])
					i++;
				break;
			}
		}
	}
	return 0;
}

static int in_kvs(const struct kvs *k, const char *name)
{
	int i;

	for (i = 0; i < k->n; i++)
		if (!strcmp(k->v[i].key, name))
			return 1;
	return 0;
}

static int truthy(const char *v, int *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" }, *const no[] = { "0", "false", "no", "off", "" };
	size_t i;

	for (i = 0; i < 4; i++)
		if (!strcasecmp(v, yes[i]))
			return *out = 1, 0;
	for (i = 0; i < 5; i++)
		if (!strcasecmp(v, no[i]))
			return *out = 0, 0;
	return -1;
}

/* The environment's options, a repeatable list split on spaces and commas. */
static int env_read(const struct option *opts, struct kvs *out)
{
	char var[64];
	size_t i, j;

	for (i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
		const char *v, *k = env_keys[i];

		if (!opt_by_name(opts, k, strlen(k)) || strcmp(opt_by_name(opts, k, strlen(k))->name, k))
			continue;
		snprintf(var, sizeof(var), "LLMTAP_");
		for (j = 0; k[j] && j + 8 < sizeof(var); j++)
			var[7 + j] = k[j] == '-' ? '_' : toupper((unsigned char)k[j]);
		var[7 + j] = 0;
		v = getenv(var);
		if (!v || !*v)
			continue;
		if (!strcmp(k, "push")) {
			while (*v) {
				size_t n = strcspn(v, " \t,");

				if (n && kvs_add(out, k, strlen(k), v, n))
					return -1;
				v += n;
				v += strspn(v, " \t,");
			}
		} else if (kvs_add(out, k, strlen(k), v, strlen(v))) {
			return -1;
		}
	}
	return 0;
}

/* Check the file's keys against opts; the push token is taken out. Returns 0 or 2. */
static int file_check(const char *path, struct kvs *k, const struct option *opts)
{
	const struct option *o;
	struct stat st;
	int i, b;

	free(file_token);
	file_token = NULL;
	for (i = 0; i < k->n; i++) {
		if (!strcmp(k->v[i].key, "push-token")) {
			if (!file_token && !stat(path, &st) && (st.st_mode & 077))
				fprintf(stderr, "llmtap: %s holds push-token but others may read it (chmod 600)\n",
					path);
			free(file_token);
			file_token = k->v[i].val;
			k->v[i].val = strdup("");
			continue;
		}
		o = opt_by_name(opts, k->v[i].key, strlen(k->v[i].key));
		if (!o || strcmp(o->name, k->v[i].key) || !strcmp(o->name, "config") ||
		    !strcmp(o->name, "help")) {
			fprintf(stderr, "llmtap: %s: unknown key '%s'\n", path, k->v[i].key);
			return 2;
		}
		if (o->has_arg == no_argument && truthy(k->v[i].val, &b)) {
			fprintf(stderr, "llmtap: %s: '%s' takes true or false\n", path, k->v[i].key);
			return 2;
		}
	}
	return 0;
}

/* Append "--key=value" (or "--key" for a true flag) to av. */
static int push_arg(char ***av, int *ac, const struct option *opts, const struct kv *kv)
{
	const struct option *o = opt_by_name(opts, kv->key, strlen(kv->key));
	char **n, *s;
	int on;

	if (!o || !strcmp(kv->key, "push-token"))
		return 0;
	if (o->has_arg == no_argument) {
		if (truthy(kv->val, &on) || !on)
			return 0;
		s = malloc(strlen(kv->key) + 3);
		if (s)
			sprintf(s, "--%s", kv->key);
	} else {
		s = malloc(strlen(kv->key) + strlen(kv->val) + 4);
		if (s)
			sprintf(s, "--%s=%s", kv->key, kv->val);
	}
	n = realloc(*av, (*ac + 2) * sizeof(*n));
	if (!s || !n) {
		free(s);
		if (n)
			*av = n;
		return -1;
	}
	*av = n;
	n[(*ac)++] = s;
	n[*ac] = NULL;
	return 0;
}

/* The value of --config on the command line, or NULL. */
static const char *argv_config(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

int config_argv(int argc, char **argv, const struct option *opts, int *out_argc, char ***out_argv)
{
	const char *path = argv_config(argc, argv), *envpath = getenv("LLMTAP_CONFIG");
	struct kvs file = { 0 }, env = { 0 };
	char **av = NULL;
	int ac = 0, i, rc = 2, required = 1;

	if (!path && envpath && *envpath)
		path = envpath;
	if (!path) {
		path = CONFIG_DEFAULT_PATH;
		required = 0;
	}
	i = file_read(path, &file);
	if (i == 2)
		goto out;
	if (i < 0 && (required || errno != ENOENT)) {
		fprintf(stderr, "llmtap: cannot read config file %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (file_check(path, &file, opts) || env_read(opts, &env))
		goto out;
	av = calloc(2, sizeof(*av));
	if (!av || !(av[0] = strdup(argv[0])))
		goto out_oom;
	ac = 1;
	for (i = 0; i < file.n; i++)
		if (!in_kvs(&env, file.v[i].key) && !in_argv(argc, argv, opts, file.v[i].key) &&
		    push_arg(&av, &ac, opts, &file.v[i]))
			goto out_oom;
	for (i = 0; i < env.n; i++)
		if (!in_argv(argc, argv, opts, env.v[i].key) && push_arg(&av, &ac, opts, &env.v[i]))
			goto out_oom;
	for (i = 1; i < argc; i++) {
		char **n = realloc(av, (ac + 2) * sizeof(*n));

		if (!n)
			goto out_oom;
		av = n;
		if (!(av[ac] = strdup(argv[i])))
			goto out_oom;
		av[++ac] = NULL;
	}
	*out_argc = ac;
	*out_argv = av;
	rc = 0;
	goto out;
out_oom:
	fprintf(stderr, "llmtap: out of memory\n");
	config_free(av);
	rc = 1;
out:
	kvs_free(&file);
	kvs_free(&env);
	return rc;
}

void config_free(char **argv)
{
	char **a;

	for (a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

const char *config_push_token(void)
{
	const char *t = getenv("LLMTAP_PUSH_TOKEN");

	if (t && *t)
		return t;
	return file_token && *file_token ? file_token : NULL;
}

const char *config_file_value(const char *key)
{
	static struct kvs k;
	static int loaded;
	const char *path = getenv("LLMTAP_CONFIG"), *v = NULL;
	int i;

	if (!loaded) {
		loaded = 1;
		if (file_read(path && *path ? path : CONFIG_DEFAULT_PATH, &k) == 2)
			kvs_free(&k);
	}
	for (i = 0; i < k.n; i++)
		if (!strcmp(k.v[i].key, key))
			v = k.v[i].val;
	return v;
}
