// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PoC loader: loads sni.bpf.o, attaches its cgroup programs to one cgroup
 * and its sk_msg program to the sockhash, writes the name patterns, prints
 * every verdict record until SIGINT/SIGTERM, then detaches (nothing pinned).
 *
 *   loader -c CGROUP [-p PORT]... [-a NAME]... [-d NAME]... [-k] [-b] [-q]
 *     -a NAME  allow NAME (or *.SUFFIX) on any port     -d NAME  deny it
 *     -k       keep verified sockets in the sockhash (default: remove)
 *     -b       bench mode: every marked socket is verified on its first send
 *              and stays in the sockhash (per-send cost of the sk_msg path)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "poc_abi.h"

static volatile sig_atomic_t stop;
static int quiet;
static void on_signal(int sig) { (void)sig; stop = 1; }

static const char *reason_name(int r)
{
	static const char *n[] = { "ok", "name_denied", "no_name", "ech", "fragmented_client_hello", "unparsable",
				   "not_client_hello", "bad_name", "absolute_form", "other_protocol" };
	return r >= 0 && r < (int)(sizeof(n) / sizeof(n[0])) ? n[r] : "?";
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct poc_event *e = data;
	char addr[64], name[POC_NAME_MAX + 1];
	unsigned int i, n = e->name_len < 64 ? e->name_len : 64;
	(void)ctx;
	(void)size;

	for (i = 0; i < n; i++)
		name[i] = (char)e->rname[n - 1 - i]; /* un-reverse */
	name[n] = 0;
	inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, addr, sizeof(addr));
	if (!quiet || !e->verdict)
		printf("{\"verdict\":\"%s\",\"reason\":\"%s\",\"name\":\"%s\",\"addr\":\"%s\",\"port\":%u,"
		       "\"pid\":%u,\"first_msg_bytes\":%u,\"cookie\":%llu}\n",
		       e->verdict ? "verified" : "refused", reason_name(e->reason), name, addr, e->port,
		       (unsigned)(e->pid_tgid >> 32), e->msg_size, (unsigned long long)e->cookie);
	fflush(stdout);
	return 0;
}

static int add_name(int fd, const char *pattern, int action, int rule_id)
{
	struct poc_name_key k;
	struct poc_name_value v = { .action = action, .rule_id = rule_id, .port_lo = 0, .port_hi = 65535 };
	size_t len = strlen(pattern), i, n = 0;
	int wildcard = len > 2 && pattern[0] == '*' && pattern[1] == '.';
	const char *s = wildcard ? pattern + 1 : pattern; /* ".suffix" for wildcards */
	size_t sl = strlen(s);

	memset(&k, 0, sizeof(k));
	if (sl + 1 > POC_NAME_MAX)
		return -1;
	for (i = 0; i < sl; i++)
		k.name[n++] = (unsigned char)s[sl - 1 - i];
	/* exact: "...\0" must match to the end; wildcard: a proper suffix
	 * after a dot, so the prefix "tset.elpmaxe." (one more byte needed
	 * for a name, which the LPM guarantees only if the name is longer:
	 * "example.test" reversed + '\0' never matches "tset.elpmaxe.") */
	if (!wildcard)
		k.name[n++] = 0;
	k.scope = 0;
	k.prefixlen = 32 + 8 * n;
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY);
}

int main(int argc, char **argv)
{
	const char *cg = NULL, *obj_path = "sni.bpf.o";
	struct bpf_object *obj;
	struct bpf_link *links[8] = {};
	int nobackstop = 0, nlinks = 0, opt, cgfd, err, keep = 0, bench = 0, rule = 1, nports = 0;
	const char *allow[32], *deny[32];
	int nallow = 0, ndeny = 0;
	__u16 ports[16];
	struct ring_buffer *rb;
	int msg_fd, map_fd;

	while ((opt = getopt(argc, argv, "c:p:a:d:kbqno:")) != -1) {
		switch (opt) {
		case 'c': cg = optarg; break;
		case 'p': if (nports < 16) ports[nports++] = (__u16)atoi(optarg); break;
		case 'a': if (nallow < 32) allow[nallow++] = optarg; break;
		case 'd': if (ndeny < 32) deny[ndeny++] = optarg; break;
		case 'k': keep = 1; break;
		case 'b': bench = 1; break;
		case 'q': quiet = 1; break;
		case 'n': nobackstop = 1; break;
		case 'o': obj_path = optarg; break;
		default: fprintf(stderr, "usage: see source\n"); return 2;
		}
	}
	if (!cg) {
		fprintf(stderr, "-c CGROUP required\n");
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "load: %s\n", strerror(-err));
		return 1;
	}
	printf("loaded %s: connect4 connect6 sockops sk_msg cgroup_skb/egress all accepted by the verifier\n", obj_path);
	{
		struct bpf_program *p;
		bpf_object__for_each_program(p, obj) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) == 0)
				printf("  %-15s verified_insns=%u xlated=%uB\n", bpf_program__name(p), info.verified_insns,
				       info.xlated_prog_len);
		}
	}
	fflush(stdout);

	map_fd = bpf_object__find_map_fd_by_name(obj, "poc_names");
	for (int i = 0; i < nallow; i++)
		if (add_name(map_fd, allow[i], POC_ALLOW, rule++))
			fprintf(stderr, "allow %s: %s\n", allow[i], strerror(errno));
	for (int i = 0; i < ndeny; i++)
		if (add_name(map_fd, deny[i], POC_DENY, rule++))
			fprintf(stderr, "deny %s: %s\n", deny[i], strerror(errno));
	map_fd = bpf_object__find_map_fd_by_name(obj, "poc_ports");
	for (int i = 0; i < nports; i++) {
		__u8 one = 1;
		bpf_map_update_elem(map_fd, &ports[i], &one, BPF_ANY);
	}
	map_fd = bpf_object__find_map_fd_by_name(obj, "poc_cfg");
	{
		__u32 k0 = 0, k1 = 1, v0 = !keep, v1 = bench;
		bpf_map_update_elem(map_fd, &k0, &v0, BPF_ANY);
		bpf_map_update_elem(map_fd, &k1, &v1, BPF_ANY);
	}

	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	if (cgfd < 0) {
		perror(cg);
		return 1;
	}
	{
		const char *progs[] = { "poc_connect4", "poc_connect6", "poc_sockops", "poc_skb_egress" };
		for (unsigned i = 0; i < (nobackstop ? 3u : 4u); i++) {
			struct bpf_program *p = bpf_object__find_program_by_name(obj, progs[i]);
			links[nlinks] = bpf_program__attach_cgroup(p, cgfd);
			if (!links[nlinks]) {
				fprintf(stderr, "attach %s: %s\n", progs[i], strerror(errno));
				return 1;
			}
			nlinks++;
		}
	}
	/* sk_msg: attached to the map (6.1 has no sockmap bpf_link; 6.10+ does). */
	msg_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "poc_msg"));
	map_fd = bpf_object__find_map_fd_by_name(obj, "poc_verify");
	if (bpf_prog_attach(msg_fd, map_fd, BPF_SK_MSG_VERDICT, 0)) {
		fprintf(stderr, "attach sk_msg: %s\n", strerror(errno));
		return 1;
	}
	printf("attached to %s (remove verified sockets from the sockhash: %s, bench: %s)\n", cg,
	       keep ? "no" : "yes", bench ? "yes" : "no");
	fflush(stdout);

	rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "poc_events"), on_event, NULL, NULL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop)
		ring_buffer__poll(rb, 200);
	ring_buffer__poll(rb, 0);

	{
		static const char *names[] = { "marked", "inserted", "insert_failed", "msg_runs", "corked",
					       "verified", "refused", "removed", "skb_dropped", "hdr_opt_runs" };
		int ncpu = libbpf_num_possible_cpus();
		__u64 vals[256];
		int fd = bpf_object__find_map_fd_by_name(obj, "poc_stats");

		printf("stats:");
		for (__u32 i = 0; i < POC_STAT_MAX; i++) {
			__u64 sum = 0;
			if (bpf_map_lookup_elem(fd, &i, vals) == 0)
				for (int c = 0; c < ncpu && c < 256; c++)
					sum += vals[c];
			printf(" %s=%llu", names[i], (unsigned long long)sum);
		}
		printf("\n");
	}
	bpf_prog_detach2(msg_fd, map_fd, BPF_SK_MSG_VERDICT);
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	close(cgfd);
	return 0;
}
