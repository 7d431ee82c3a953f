/* top.c -- `llmtap top`: a live terminal view of the database a tracer writes: calls in flight, rates, the slowest recent calls with their verdict, the busiest processes; q quits. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/util.h"
#include "db/inflight.h"
#include "db/stats.h"
#include "db/store.h"

#define NS 1000000000LL

/* `llmtap top --help` */
static const char usage_top[] =
	"usage: llmtap top [--db PATH] [--interval SEC] [--window SEC] [--once]\n"
	"A live view of what the tracer records, refreshed every --interval (default 1 s):\n"
	"calls in flight, calls/min, tokens/s, cost/min over the last minute and --window\n"
	"(default 10 m), the slowest recent calls with their verdict, the busiest processes.\n"
	"Keys: q (or Ctrl-C) quits. --once prints one frame and exits (no terminal needed).\n";

static volatile sig_atomic_t top_stop, top_resized;
static struct termios top_saved;
static int top_tty;

static void on_stop(int sig)
{
	(void)sig;
	top_stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	top_resized = 1;
}

/* Put the terminal back: cooked mode, the cursor, the main screen. */
static void term_restore(void)
{
	if (!top_tty)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_saved);
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	top_tty = 0;
}

/* Keys one at a time, no echo, the alternate screen. Returns 0, -1. */
static int term_raw(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &top_saved))
		return -1;
	t = top_saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
		return -1;
	top_tty = 1;
	atexit(term_restore);
	fputs("\033[?1049h\033[?25l", stdout);
	return 0;
}

/* The terminal's size, 80x24 when unknown. */
static void term_size(int *cols, int *rows)
{
	struct winsize w;

	*cols = top_tty ? 80 : 0;	/* 0: lines are not cut (--once into a pipe) */
	*rows = 24;
	if (top_tty && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) && w.ws_col && w.ws_row) {
		*cols = w.ws_col;
		*rows = w.ws_row;
	}
}

/* One line of the frame, cut at the terminal's width. */
static void line(int cols, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(int cols, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cols > 0 && cols < (int)sizeof(buf))
		buf[cols] = 0;
	fputs(buf, stdout);
	fputs(top_tty ? "\033[K\n" : "\n", stdout);
}

/* "1 min: 12 calls (12.0/min), 3400 tok/s ..." of the calls since since_ns over secs. */
static void rates(struct store *s, int cols, const char *label, int64_t since, double secs)
{
	struct query *q;
	char usd[32], per[32];

	if (query_window(&q, s, since) || query_step(q) != 1) {
		query_close(q);
		return;
	}
	line(cols, "last %-4s %6lld calls %8.1f calls/min %9.1f tokens/s %11s USD/min %5lld error(s)", label,
	     (long long)query_int(q, 0), query_int(q, 0) * 60.0 / secs,
	     (query_int(q, 2) + query_int(q, 3)) / secs,
	     cli_fmt_usd(query_real(q, 4) * 60.0 / secs, per, sizeof(per)), (long long)query_int(q, 1));
	(void)usd;
	query_close(q);
}

/* Draw one frame. Returns 0, -1 on a database error. */
static int frame(struct store *s, const char *db, double window_s)
{
	int64_t now = (int64_t)real_ns(), since = now - (int64_t)(window_s * NS);
	int cols, rows, n = 0;
	struct query *q;
	char t[32], a[32], b[32], c[32];

	term_size(&cols, &rows);
	if (top_tty)
		fputs("\033[H", stdout);
	cli_fmt_time(now, t, sizeof(t));
	line(cols, "llmtap top  %s  %s  (q quits)", t, db);
	line(cols, "%s", "");
	/* in flight, from the tracer's snapshot */
	if (query_inflight(&q, s, now - INFLIGHT_FRESH_NS) == 0) {
		while (query_step(q) == 1) {
			if (!n++)
				line(cols, "IN FLIGHT  %-15s %7s %-9s %8s  %s", "COMM", "PID", "PHASE", "FOR", "CALL");
			snprintf(a, sizeof(a), "%.1f s", (now - query_int(q, query_index(q, "start_ns"))) / 1e9);
			line(cols, "           %-15s %7lld %-9s %8s  %s %s%s", cli_col_named(q, "comm", ""),
			     (long long)query_int(q, 0), cli_col_named(q, "phase", ""), a,
			     cli_col_named(q, "method", ""), cli_col_named(q, "host", ""), cli_col_named(q, "path", ""));
		}
		query_close(q);
	}
	if (!n)
		line(cols, "IN FLIGHT  0 calls");
	line(cols, "%s", "");
	rates(s, cols, "1m", now - 60 * NS, 60);
	if (window_s >= 86400)
		snprintf(a, sizeof(a), "%gd", window_s / 86400);
	else if (window_s >= 3600)
		snprintf(a, sizeof(a), "%gh", window_s / 3600);
	else
		snprintf(a, sizeof(a), "%gm", window_s / 60);
	rates(s, cols, a, since, window_s);
	line(cols, "%s", "");
	/* the slowest recent calls */
	n = 0;
	if (query_slowest(&q, s, since, 5) == 0) {
		while (query_step(q) == 1) {
			if (!n++) {
				line(cols, "SLOWEST CALLS, last %s", a);
				line(cols, "  %-15s %7s %-26s %9s %8s %-8s %s", "COMM", "PID", "MODEL",
				     "TOTAL_MS", "TTFT_MS", "VERDICT", "ERROR");
			}
			line(cols, "  %-15s %7lld %-26.26s %9s %8s %-8s %s",
			     cli_col_named(q, "comm", ""), (long long)query_int(q, 3), cli_col_named(q, "model", "-"),
			     cli_fmt_ms(q, query_index(q, "duration_ms"), b, sizeof(b)),
			     cli_fmt_ms(q, query_index(q, "ttft_ms"), c, sizeof(c)), cli_col_named(q, "verdict", "-"),
			     cli_col_named(q, "error_type", ""));
		}
		query_close(q);
	} else {
		return -1;
	}
	if (!n)
		line(cols, "SLOWEST CALLS, last %s: none", a);
	line(cols, "%s", "");
	n = 0;
	if (query_busiest(&q, s, since, 8) == 0) {
		while (query_step(q) == 1) {
			if (!n++) {
				line(cols, "BUSIEST PROCESSES, last %s", a);
				line(cols, "  %-15s %7s %6s %6s %9s %11s %9s", "COMM", "PID", "CALLS",
				     "ERRORS", "TOKENS", "COST_USD", "CPU_MS");
			}
			line(cols, "  %-15s %7lld %6lld %6lld %9lld %11s %9s",
			     cli_col_text(q, 1, ""), (long long)query_int(q, 0), (long long)query_int(q, 2),
			     (long long)query_int(q, 3), (long long)query_int(q, 4),
			     cli_fmt_usd(query_real(q, 5), b, sizeof(b)), cli_fmt_ms(q, 6, c, sizeof(c)));
		}
		query_close(q);
	} else {
		return -1;
	}
	if (!n)
		line(cols, "BUSIEST PROCESSES, last %s: none", a);
	if (top_tty)
		fputs("\033[J", stdout);
	fflush(stdout);
	return 0;
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "window", required_argument, NULL, 'w' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db();
	double interval = 1, window = 600;
	int opt, once = 0, rc = 0;
	struct sigaction sa = { 0 };
	struct store *s;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'i':
			if (parse_duration(optarg, &interval) || interval < 0.1 || interval > 3600) {
				fprintf(stderr, "llmtap: bad --interval value '%s' (0.1 to 3600 s)\n", optarg);
				return 2;
			}
			break;
		case 'w':
			if (parse_duration(optarg, &window) || window < 60 || window > 86400 * 30) {
				fprintf(stderr, "llmtap: bad --window value '%s' (1m to 30d)\n", optarg);
				return 2;
			}
			break;
		case '1': once = 1; break;
		case 'h': fputs(usage_top, stdout); return 0;
		default: return cli_opt_error("top", argv, opt);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	if (once) {
		rc = frame(s, db, window) ? 1 : 0;
		goto out_store;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "llmtap: top needs a terminal (--once prints one frame)\n");
		rc = 2;
		goto out_store;
	}
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	if (term_raw()) {
		fprintf(stderr, "llmtap: top: cannot set up the terminal: %s\n", strerror(errno));
		rc = 1;
		goto out_store;
	}
	while (!top_stop) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char key;

		if (frame(s, db, window)) {
			term_restore();
			log_warn("database: %s", store_errmsg(s));
			rc = 1;
			break;
		}
		if (top_resized) {
			top_resized = 0;
			fputs("\033[2J", stdout);
		}
		if (poll(&p, 1, (int)(interval * 1000)) > 0 && read(STDIN_FILENO, &key, 1) == 1 &&
		    (key == 'q' || key == 'Q' || key == 3))
			break;
	}
	term_restore();
out_store:
	store_close(s);
	return rc;
}
