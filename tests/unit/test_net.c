/* test_net.c -- the connections tracker: closed connections' rows queued, emitted in close order, connects reported late. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/rows.h"
#include "track/net.h"
#include "harness.h"

#define ROWS_MAX 64

static struct connection_row *rows[ROWS_MAX];
static int nrows;

static void on_row(void *ud, enum row_kind kind, void *row)
{
	(void)ud;
	if (kind == ROW_CONNECTION && nrows < ROWS_MAX)
		rows[nrows++] = row;
	else
		row_free(kind, row);
}

static const struct row_sink sink = { on_row, NULL };

static void rows_clear(void)
{
	while (nrows)
		row_free(ROW_CONNECTION, rows[--nrows]);
}

/* A close of the socket cookie, connected by pid from local port sport
 * (0: released already, as the kernel reports it). */
static void tcp_close(struct net_table *t, uint64_t cookie, uint32_t pid, uint16_t sport,
		      uint64_t syn_ns, uint64_t est_ns)
{
	struct net_tcp e;

	memset(&e, 0, sizeof(e));
	e.tgid = e.tid = pid;
	snprintf(e.comm, sizeof(e.comm), "c%u", pid);
	e.cookie = cookie;
	e.syn_ns = syn_ns;
	e.est_ns = est_ns;
	e.close_ns = est_ns ? est_ns + 1000000 : syn_ns + 1000000;
	e.tuple.family = 2;
	e.tuple.sport = sport;
	e.tuple.dport = 443;
	e.tuple.saddr[0] = e.tuple.daddr[0] = 127;
	e.tuple.saddr[3] = e.tuple.daddr[3] = 1;
	net_tcp_close(t, &e);
}

/* The tuple of a connection from local port sport to port 443. */
static void tuple_to_443(struct net_tuple *tu, uint16_t sport)
{
	memset(tu, 0, sizeof(*tu));
	tu->family = 2;
	tu->sport = sport;
	tu->dport = 443;
}

/* Rows wait NET_ROW_WAIT_NS; all = 1 takes every one, in close order. */
static void test_queue_order(void)
{
	struct net_table *t = net_table_new(NULL, &sink);
	int i;

	CHECK(t != NULL);
	for (i = 1; i <= 5; i++)
		tcp_close(t, 100 + i, 1000 + i, 40000 + i, 1000000000ull * i, 1000000000ull * i + 500000);
	net_emit_closed(t, 0);
	CHECK(nrows == 0);	/* closed just now: they wait */
	net_emit_closed(t, 1);
	CHECK(nrows == 5);
	for (i = 0; i < nrows; i++)
		CHECKF(rows[i]->pid == 1001 + i && rows[i]->sport == 40001 + i, "row %d", i);
	CHECK(nrows == 5 && rows[0]->connect_ms > 0.49 && rows[0]->connect_ms < 0.51);
	rows_clear();
	/* the queue is empty again, and takes new closes at its head */
	net_emit_closed(t, 1);
	CHECK(nrows == 0);
	tcp_close(t, 200, 2000, 41000, 5000000000ull, 5000100000ull);
	net_emit_closed(t, 1);
	CHECK(nrows == 1 && rows[0]->pid == 2000);
	rows_clear();
	net_table_free(t);
}

/* A socket closed twice (connect() tried again on it) is one row, the later
 * close's, and the rows queued behind it still come out. */
static void test_closed_twice(void)
{
	struct net_table *t = net_table_new(NULL, &sink);

	tcp_close(t, 300, 3000, 42000, 1000000000ull, 0);	/* refused */
	tcp_close(t, 301, 3001, 42001, 1000000000ull, 1000200000ull);
	tcp_close(t, 300, 3000, 42002, 2000000000ull, 2000300000ull);
	net_emit_closed(t, 1);
	CHECK(nrows == 2);
	CHECK(nrows == 2 && rows[0]->pid == 3000 && rows[0]->sport == 42002 &&
	      rows[0]->connect_error == NULL);
	CHECK(nrows == 2 && rows[1]->pid == 3001);
	rows_clear();
	net_table_free(t);
}

/* Without all, a row comes out once it has waited: the oldest first. */
static void test_wait(void)
{
	struct net_table *t = net_table_new(NULL, &sink);
	struct timespec ts = { 1, 100000000 };	/* NET_ROW_WAIT_NS is 1 s */

	tcp_close(t, 400, 4000, 43000, 1000000000ull, 1000100000ull);
	tcp_close(t, 401, 4001, 43001, 1000000000ull, 1000100000ull);
	net_emit_closed(t, 0);
	CHECK(nrows == 0);
	nanosleep(&ts, NULL);
	tcp_close(t, 402, 4002, 43002, 1000000000ull, 1000100000ull);
	net_emit_closed(t, 0);
	CHECK(nrows == 2 && rows[0]->pid == 4000 && rows[1]->pid == 4001);
	rows_clear();
	net_emit_closed(t, 1);
	CHECK(nrows == 1 && rows[0]->pid == 4002);
	rows_clear();
	net_table_free(t);
}

/* A connect reported only with a socket's class (bpf/net.bpf.c connect_lazy)
 * gives its row the connect time; the close keeps the tuple seen first. */
static void test_connect_late(void)
{
	struct net_table *t = net_table_new(NULL, &sink);
	struct net_tuple tu;

	tuple_to_443(&tu, 44000);
	net_sock_class(t, 5000, 500, 77, NET_CLASS_TLS, &tu, 3000000000ull);
	net_sock_connected(t, 500, 2000000000ull, 2000700000ull);
	tcp_close(t, 500, 5000, 0, 0, 0);	/* the close knows neither */
	net_emit_closed(t, 1);
	CHECK(nrows == 1);
	CHECK(nrows == 1 && rows[0]->sport == 44000);
	CHECK(nrows == 1 && rows[0]->connect_ms > 0.69 && rows[0]->connect_ms < 0.71);
	rows_clear();
	net_table_free(t);
}

/* net_pid_by_ports(): loopback reuses a local port within seconds, so the
 * sender of a POST is the socket of those ports open when it came. */
static void test_pid_by_ports(void)
{
	struct net_table *t = net_table_new(NULL, &sink);
	struct net_tuple tu;

	/* pid 100: ports 50000 -> 443, connected at 1 s, closed at 1.0011 s */
	tcp_close(t, 1, 100, 50000, 1000000000ull, 1000100000ull);
	CHECK(net_pid_by_ports(t, 50000, 443, 0) == 100);		/* any time */
	CHECK(net_pid_by_ports(t, 50000, 443, 1000500000ull) == 100);	/* while open */
	CHECK(net_pid_by_ports(t, 50000, 443, 2000000000ull) == 0);	/* closed before */
	CHECK(net_pid_by_ports(t, 50001, 443, 0) == 0);
	/* pid 200 reuses the port at 3 s, still open */
	tuple_to_443(&tu, 50000);
	net_sock_class(t, 200, 2, 78, NET_CLASS_PLAIN, &tu, 3000100000ull);
	net_sock_connected(t, 2, 3000000000ull, 3000050000ull);
	CHECK(net_pid_by_ports(t, 50000, 443, 4000000000ull) == 200);
	CHECK(net_pid_by_ports(t, 50000, 443, 0) == 200);		/* the open one wins */
	CHECK(net_pid_by_ports(t, 50000, 443, 2000000000ull) == 0);	/* between the two */
	CHECK(net_pid_by_ports(t, 50000, 443, 1000500000ull) == 100);	/* the first one's time */
	net_emit_closed(t, 1);
	rows_clear();
	net_table_free(t);
}

int main(void)
{
	test_queue_order();
	test_closed_twice();
	test_wait();
	test_connect_late();
	test_pid_by_ports();
	return harness_done("test_net");
}
