/* SPDX-License-Identifier: BSD-3-Clause
 * rtrctl: the operator CLI. Talks to rtr-controld over its Unix socket
 * (JSON lines), reads counters straight from the dataplane's stats segment,
 * and makes tokens offline. Secrets never go on the command line: a
 * certificate comes from --cert-file FILE (or - for standard input).
 *
 *   rtrctl [--socket PATH] [--instance NAME] [--json] COMMAND ...
 * Exit codes: 0 done, 1 refused, 2 usage, 3 daemon unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "rtr_seg.h"
#include "rtr_xdp_user.h"
#include "token.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_UNREACH	3

static const char *sock_path;
static const char *instance = "default";
static int json_out;

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "rtrctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(rtrctl --help lists the commands)\n");
	return EXIT_USAGE;
}

/* A certificate from a file or stdin: 32 hex characters, whitespace around. */
static int
read_cert(const char *path, char out[33])
{
	char buf[128];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t n, i, k = 0;

	if (f == NULL) {
		fprintf(stderr, "rtrctl: --cert-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (f != stdin)
		fclose(f);
	for (i = 0; i < n && k < 33; i++) {
		if (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
			continue;
		out[k++] = buf[i];
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (k != 32) {
		fprintf(stderr, "rtrctl: --cert-file %s: expected a 32-character hex certificate\n",
			path);
		OPENSSL_cleanse(out, 33);
		return -1;
	}
	out[32] = '\0';
	return 0;
}

/* One request, one reply. Returns the exit code; *result on success. */
static int
call(const char *cmd, json_t *args, json_t **result)
{
	struct sockaddr_un sa;
	json_t *req, *rep;
	json_error_t je;
	char *line, buf[1 << 20];
	size_t got = 0;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "rtrctl: cannot reach rtr-controld at %s: %s\n", sock_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		json_decref(args);
		return EXIT_UNREACH;
	}
	req = json_pack("{s:s,s:o}", "cmd", cmd, "args", args ? args : json_object());
	line = json_dumps(req, JSON_COMPACT);
	{
		json_t *c = json_object_get(json_object_get(req, "args"), "cert");

		if (json_is_string(c))
			OPENSSL_cleanse((char *)json_string_value(c), strlen(json_string_value(c)));
	}
	json_decref(req);
	rc = line != NULL && write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
	     write(fd, "\n", 1) == 1;
	if (line != NULL) {
		OPENSSL_cleanse(line, strlen(line));
		free(line);
	}
	while (rc && got < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(buf, '\n', got) != NULL)
			break;
	}
	close(fd);
	buf[got] = '\0';
	rep = json_loads(buf, 0, &je);
	if (rep == NULL) {
		fprintf(stderr, "rtrctl: no answer from rtr-controld\n");
		return EXIT_UNREACH;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		if (json_out) {
			json_dumpf(rep, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			fprintf(stderr, "rtrctl: %s\n",
				json_string_value(json_object_get(rep, "error")));
		}
		rc = (int)json_integer_value(json_object_get(rep, "code"));
		json_decref(rep);
		return rc == EXIT_USAGE ? EXIT_USAGE : EXIT_REFUSED;
	}
	*result = json_incref(json_object_get(rep, "result"));
	json_decref(rep);
	return 0;
}

static void
print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
}

/* Human-readable: an array of flat objects as a table with these columns. */
static void
print_table(json_t *arr, const char *const cols[])
{
	size_t i, c, w[16] = { 0 };
	json_t *row;
	char cell[128];

	for (c = 0; cols[c]; c++)
		w[c] = strlen(cols[c]);
	json_array_foreach(arr, i, row) {
		for (c = 0; cols[c]; c++) {
			json_t *v = json_object_get(row, cols[c]);
			char *s = json_is_string(v) ? strdup(json_string_value(v)) :
				  json_dumps(v, JSON_ENCODE_ANY);

			snprintf(cell, sizeof(cell), "%s", s ? s : "");
			free(s);
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
	}
	for (c = 0; cols[c]; c++)
		printf("%-*s  ", (int)w[c], cols[c]);
	putchar('\n');
	json_array_foreach(arr, i, row) {
		for (c = 0; cols[c]; c++) {
			json_t *v = json_object_get(row, cols[c]);
			char *s = json_is_string(v) ? strdup(json_string_value(v)) :
				  json_dumps(v, JSON_ENCODE_ANY);

			printf("%-*s  ", (int)w[c], s ? s : "");
			free(s);
		}
		putchar('\n');
	}
}

/* Send a request and print its result: a table with these columns, or JSON. */
static int
run(const char *cmd, json_t *args, const char *const cols[])
{
	json_t *res = NULL;
	int rc = call(cmd, args, &res);

	if (rc != 0)
		return rc;
	if (json_out || cols == NULL || !json_is_array(res))
		print_json(res);
	else
		print_table(res, cols);
	json_decref(res);
	return 0;
}

static const char *const app_cols[] = {
	"app_index", "app_id", "name", "enabled", "enc", "max_channels", "max_members",
	"rate_fps", "regions", NULL,
};

/* Options shared by app add and app set, into a JSON args object. */
static int
app_opts(int argc, char **argv, json_t *args, int need_cert)
{
	static const struct option opts[] = {
		{ "cert-file", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "enc", required_argument, NULL, 'e' },
		{ "max-channels", required_argument, NULL, 'C' },
		{ "max-members", required_argument, NULL, 'M' },
		{ "rate", required_argument, NULL, 'r' },
		{ "rate-bytes", required_argument, NULL, 'b' },
		{ "egress", required_argument, NULL, 'g' },
		{ "max-lifetime", required_argument, NULL, 'l' },
		{ "regions", required_argument, NULL, 'R' },
		{ "enable", no_argument, NULL, 'E' },
		{ "disable", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	char cert[33];
	int o, have_cert = 0;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		long long v = 0;

		if (strchr("CMrbgl", o) != NULL) {
			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || *end || v < 0) {
				fprintf(stderr, "rtrctl: --%s: '%s' is not a number\n",
					opts[strchr("cneCMrbglREd", o) - "cneCMrbglREd"].name, optarg);
				return -1;
			}
		}
		switch (o) {
		case 'c':
			if (read_cert(optarg, cert) < 0)
				return -1;
			json_object_set_new(args, "cert", json_string(cert));
			OPENSSL_cleanse(cert, sizeof(cert));
			have_cert = 1;
			break;
		case 'n':
			json_object_set_new(args, "name", json_string(optarg));
			break;
		case 'e':
			json_object_set_new(args, "enc", json_string(optarg));
			break;
		case 'C':
			json_object_set_new(args, "max_channels", json_integer(v));
			break;
		case 'M':
			json_object_set_new(args, "max_members", json_integer(v));
			break;
		case 'r':
			json_object_set_new(args, "rate_fps", json_integer(v));
			break;
		case 'b':
			json_object_set_new(args, "rate_bps", json_integer(v));
			break;
		case 'g':
			json_object_set_new(args, "egress_bps", json_integer(v));
			break;
		case 'l':
			json_object_set_new(args, "max_lifetime", json_integer(v));
			break;
		case 'R':
			json_object_set_new(args, "regions", json_string(optarg));
			break;
		case 'E':
			json_object_set_new(args, "enabled", json_true());
			break;
		case 'D':
			json_object_set_new(args, "enabled", json_false());
			break;
		default:
			return -1;
		}
	}
	if (need_cert && !have_cert) {
		fprintf(stderr, "rtrctl: app add needs --cert-file FILE (or - for stdin)\n");
		return -1;
	}
	return optind;
}

static int
cmd_app(int argc, char **argv)
{
	json_t *args = json_object();
	const char *sub = argc > 1 ? argv[1] : "";
	int n;

	if (strcmp(sub, "list") == 0) {
		json_decref(args);
		return run("app.list", NULL, app_cols);
	}
	if (argc < 3 && strcmp(sub, "cert") != 0) {
		json_decref(args);
		return usage_error("app %s: APP_ID required", sub);
	}
	if (strcmp(sub, "add") == 0 || strcmp(sub, "set") == 0) {
		json_object_set_new(args, "app_id", json_string(argv[2]));
		n = app_opts(argc - 2, argv + 2, args, sub[0] == 'a');
		if (n < 0 || n != argc - 2) {
			json_decref(args);
			return n < 0 ? EXIT_USAGE : usage_error("unexpected argument '%s'",
								 argv[2 + n]);
		}
		return run(sub[0] == 'a' ? "app.add" : "app.set", args, NULL);
	}
	if (strcmp(sub, "del") == 0 || strcmp(sub, "show") == 0) {
		json_object_set_new(args, "app_id", json_string(argv[2]));
		return run(sub[0] == 'd' ? "app.del" : "app.show", args, app_cols);
	}
	if (strcmp(sub, "cert") == 0) {
		const char *op = argc > 2 ? argv[2] : "";
		char cmd[32];

		if (argc < 4 || (strcmp(op, "add") && strcmp(op, "promote") && strcmp(op, "del"))) {
			json_decref(args);
			return usage_error("%s", "app cert add|promote|del APP_ID [--cert-file FILE]");
		}
		json_object_set_new(args, "app_id", json_string(argv[3]));
		if (strcmp(op, "add") == 0) {
			n = app_opts(argc - 3, argv + 3, args, 1);
			if (n < 0) {
				json_decref(args);
				return EXIT_USAGE;
			}
		}
		snprintf(cmd, sizeof(cmd), "app.cert.%s", op);
		return run(cmd, args, NULL);
	}
	json_decref(args);
	return usage_error("app: unknown subcommand '%s' (add, set, del, list, show, cert)", sub);
}

static const char *const chan_cols[] = {
	"app_index", "channel", "channel_hash", "members", "active", NULL,
};
static const char *const member_cols[] = {
	"member_id", "app_index", "channel", "uid", "role", "state", "privs", NULL,
};

static int
cmd_channel_member(int argc, char **argv, int member)
{
	static const struct option opts[] = {
		{ "app", required_argument, NULL, 'a' },
		{ "ban", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args = json_object();
	const char *sub = argc > 1 ? argv[1] : "";
	int o;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a') {
			json_object_set_new(args, "app_id", json_string(optarg));
		} else if (o == 'b') {
			json_object_set_new(args, "ban", json_true());
		} else {
			json_decref(args);
			return EXIT_USAGE;
		}
	}
	if (!member && strcmp(sub, "list") == 0)
		return run("channel.list", args, chan_cols);
	if ((!member && strcmp(sub, "show") == 0) || (member && strcmp(sub, "list") == 0)) {
		if (argc - optind != 2) {
			json_decref(args);
			return usage_error("%s: APP_ID CHANNEL required", sub);
		}
		json_object_set_new(args, "app_id", json_string(argv[optind]));
		json_object_set_new(args, "channel", json_string(argv[optind + 1]));
		return run("member.list", args, member_cols);
	}
	if (member && strcmp(sub, "kick") == 0) {
		char *end;
		unsigned long long id;

		if (argc - optind != 1) {
			json_decref(args);
			return usage_error("%s: MEMBER_ID required", "member kick");
		}
		id = strtoull(argv[optind], &end, 0);
		if (*end) {
			json_decref(args);
			return usage_error("member kick: '%s' is not a member id", argv[optind]);
		}
		json_object_set_new(args, "member_id", json_integer((json_int_t)id));
		return run("member.kick", args, NULL);
	}
	json_decref(args);
	return usage_error("unknown subcommand '%s'", sub);
}

static int
cmd_node(int argc, char **argv)
{


	if (argc > 1 && strcmp(argv[1], "show") == 0)
		return run("node.show", NULL, NULL);
	if (argc == 4 && strcmp(argv[1], "set") == 0 && strcmp(argv[2], "--region") == 0)
		return run("node.set", json_pack("{s:s}", "region", argv[3]), NULL);
	return usage_error("%s", "node show | node set --region CODE");
}

static int
cmd_stats(int argc, char **argv)
{
	struct rtr_seg *seg;
	unsigned int every = 0, i, k;
	int rc, loops;

	unsigned int count = 0;

	if (argc >= 3 && strcmp(argv[1], "--watch") == 0)
		every = (unsigned int)atoi(argv[2]);
	if (argc == 5 && every && strcmp(argv[3], "--count") == 0)
		count = (unsigned int)atoi(argv[4]);
	else if (argc != 1 && argc != 3)
		return usage_error("%s", "stats [--watch SECONDS [--count N]]");
	if (argc >= 3 && every == 0)
		return usage_error("stats --watch: '%s' is not a number of seconds", argv[2]);
	rc = rtr_seg_attach(instance, RTR_ATTACH_STATS, &seg);
	if (rc < 0) {
		fprintf(stderr, "rtrctl: stats of instance %s: %s\n", instance, rtr_seg_strerror(rc));
		return EXIT_UNREACH;
	}
	for (loops = 0;; loops++) {
		struct rtr_worker_stats w;
		struct rtr_main_stats m;
		struct rtr_xdp_ctr xc[RTR_XDP_CTR_MAX];
		struct rtr_xdp_maps xm;
		int have_xdp;

		rtr_seg_stats_workers(seg, &w);
		rtr_seg_stats_main(seg, &m);
		have_xdp = 0;
		if (rtr_xdp_open(instance, &xm) == 0) {
			have_xdp = rtr_xdp_counters(&xm, xc) == 0;
			rtr_xdp_close(&xm);
		}
		if (json_out) {
			json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
					      "rx_pkts", (json_int_t)w.rx_pkts,
					      "tx_pkts", (json_int_t)w.tx_pkts,
					      "media_in", (json_int_t)w.media_in,
					      "media_out", (json_int_t)w.media_out,
					      "punted", (json_int_t)w.punted,
					      "drops", (json_int_t)w.drops_total,
					      "members", (json_int_t)m.members,
					      "channels", (json_int_t)m.channels,
					      "apps", (json_int_t)m.apps);
			json_t *dr = json_object();

			json_object_set_new(o, "enc_members", json_integer((json_int_t)m.enc_members));
			json_object_set_new(o, "enc_opened", json_integer((json_int_t)w.enc_opened));
			json_object_set_new(o, "enc_sealed", json_integer((json_int_t)w.enc_sealed));
			json_object_set_new(o, "roams", json_integer((json_int_t)m.roams));
			json_object_set_new(o, "rekeys", json_integer((json_int_t)m.rekeys));
			json_object_set_new(o, "join_guard", json_pack("{s:I,s:I,s:I,s:I,s:I}",
				"deny_rules4", (json_int_t)m.deny_rules4,
				"deny_rules6", (json_int_t)m.deny_rules6,
				"deny_list", (json_int_t)m.deny_gen,
				"src_rate", (json_int_t)m.guard_src_rate,
				"prefix_rate", (json_int_t)m.guard_prefix_rate));
			for (k = 0; k < seg->stats->n_drop_reasons; k++)
				if (w.drops[k])
					json_object_set_new(dr, rtr_seg_drop_name(seg, k),
							    json_integer((json_int_t)w.drops[k]));
			json_object_set_new(o, "drops_by_reason", dr);
			if (have_xdp) {
				json_t *x = json_object();

				for (k = 0; k < RTR_XDP_CTR_MAX; k++)
					json_object_set_new(x, rtr_xdp_ctr_names[k],
							    json_integer((json_int_t)xc[k].packets));
				json_object_set_new(o, "xdp", x);
			}
			json_dumpf(o, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(o);
		} else {
			char ts[16];
			time_t now = time(NULL);

			strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
			printf("%s  rx %llu  tx %llu  media in %llu out %llu  punted %llu  drops %llu  "
			       "members %llu  channels %llu\n", ts,
			       (unsigned long long)w.rx_pkts, (unsigned long long)w.tx_pkts,
			       (unsigned long long)w.media_in, (unsigned long long)w.media_out,
			       (unsigned long long)w.punted, (unsigned long long)w.drops_total,
			       (unsigned long long)m.members, (unsigned long long)m.channels);
			if (every == 0)
				printf("  encrypted members %llu/%llu  opened %llu  sealed %llu  "
				       "roams %llu  rekeys %llu\n",
				       (unsigned long long)m.enc_members, (unsigned long long)m.enc_max,
				       (unsigned long long)w.enc_opened, (unsigned long long)w.enc_sealed,
				       (unsigned long long)m.roams, (unsigned long long)m.rekeys);
			if (every == 0)
				printf("  heap in use %.1f MiB (tables, rings, key slots)\n",
				       (double)m.heap_used / (1 << 20));
			if (every == 0)
				printf("  join guard: %llu IPv4 + %llu IPv6 deny rules (list %llu), "
				       "JOINs/s per source %llu, per prefix %llu (0: off)\n",
				       (unsigned long long)m.deny_rules4,
				       (unsigned long long)m.deny_rules6,
				       (unsigned long long)m.deny_gen,
				       (unsigned long long)m.guard_src_rate,
				       (unsigned long long)m.guard_prefix_rate);
			for (i = 0; i < seg->stats->n_drop_reasons && every == 0; i++)
				if (w.drops[i])
					printf("  %-28s %llu\n", rtr_seg_drop_name(seg, i),
					       (unsigned long long)w.drops[i]);
			/* the XDP pre-filter's verdicts, before the dataplane's */
			for (i = 0; have_xdp && i < RTR_XDP_CTR_MAX; i++)
				if (xc[i].packets && (every == 0 || strncmp(rtr_xdp_ctr_names[i],
									    "drop", 4) == 0))
					printf("  xdp %-24s %llu\n", rtr_xdp_ctr_names[i],
					       (unsigned long long)xc[i].packets);
		}
		fflush(stdout);
		if (every == 0 || !rtr_seg_alive(seg) || (count && (unsigned int)loops + 1 >= count))
			break;
		sleep(every);
	}
	rtr_seg_detach(seg);
	return 0;
}

/* token new: offline, with the app's certificate from a file. */
static int
cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "app-id", required_argument, NULL, 'a' },
		{ "cert-file", required_argument, NULL, 'c' },
		{ "channel", required_argument, NULL, 'n' },
		{ "uid", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ "privs", required_argument, NULL, 'p' },
		{ "expire", required_argument, NULL, 'e' },
		{ "issue-ts", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct rtr_token t;
	char cert[33] = "", out[RTR_TOKEN_STR_MAX + 1];
	const char *uid = NULL, *role = "pub", *privs = NULL;
	uint32_t expire = 3600;
	int o, p, rc;

	if (argc < 2 || strcmp(argv[1], "new") != 0)
		return usage_error("%s", "token new --app-id ID --cert-file FILE --channel NAME "
				   "--uid N --role pub|sub [--expire SECONDS]");
	memset(&t, 0, sizeof(t));
	t.issue_ts = (uint32_t)time(NULL);
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			snprintf(t.app_id, sizeof(t.app_id), "%s", optarg);
			break;
		case 'c':
			if (read_cert(optarg, cert) < 0)
				return EXIT_USAGE;
			break;
		case 'n':
			if (strlen(optarg) == 0 || strlen(optarg) > RTR_TOKEN_CHANNEL_MAX)
				return usage_error("--channel: '%s' must be 1-64 bytes", optarg);
			snprintf(t.channel, sizeof(t.channel), "%s", optarg);
			t.channel_len = (uint8_t)strlen(optarg);
			break;
		case 'u':
			uid = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'p':
			privs = optarg;
			break;
		case 'e':
			expire = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			t.issue_ts = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (!t.app_id[0] || !cert[0] || !t.channel[0] || uid == NULL)
		return usage_error("%s", "token new needs --app-id, --cert-file, --channel and --uid");
	if (strcmp(role, "pub") != 0 && strcmp(role, "sub") != 0)
		return usage_error("--role: '%s' is not pub or sub", role);
	/* uid 0 is any uid: the token carries "" */
	snprintf(t.uid, sizeof(t.uid), "%s", strcmp(uid, "0") == 0 ? "" : uid);
	t.expire = expire;
	t.service = RTR_TOKEN_SERVICE_RTC;
	if (getrandom(&t.salt, sizeof(t.salt), 0) != sizeof(t.salt))
		return EXIT_REFUSED;
	t.salt = t.salt % 99999999 + 1;
	t.priv_mask = RTR_TOKEN_PRIV_BIT(RTR_TOKEN_PRIV_JOIN);
	if (privs != NULL) {
		/* --privs audio,video,data: which publishing privileges the token grants */
		char buf[64], *tok, *save = NULL;

		snprintf(buf, sizeof(buf), "%s", privs);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (strcmp(tok, "audio") == 0)
				p = RTR_TOKEN_PRIV_JOIN + 1;
			else if (strcmp(tok, "video") == 0)
				p = RTR_TOKEN_PRIV_JOIN + 2;
			else if (strcmp(tok, "data") == 0)
				p = RTR_TOKEN_PRIV_JOIN + 3;
			else if (strcmp(tok, "join") == 0)
				continue;
			else
				return usage_error("--privs: '%s' is not join, audio, video or data",
						   tok);
			t.priv_mask |= (uint8_t)RTR_TOKEN_PRIV_BIT(p);
		}
	} else if (strcmp(role, "pub") == 0) {
		for (p = RTR_TOKEN_PRIV_JOIN + 1; p <= RTR_TOKEN_PRIV_MAX; p++)
			t.priv_mask |= (uint8_t)RTR_TOKEN_PRIV_BIT(p);
	}
	rc = rtr_token_build(&t, cert, out, sizeof(out));
	OPENSSL_cleanse(cert, sizeof(cert));
	if (rc < 0) {
		fprintf(stderr, "rtrctl: token new: %s\n", rtr_token_strerror(rc));
		return EXIT_REFUSED;
	}
	if (json_out)
		printf("{\"token\": \"%s\", \"expires_at\": %llu}\n", out,
		       (unsigned long long)t.issue_ts + t.expire);
	else
		printf("%s\n", out);
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

static int
cmd_xdp(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "show") == 0)
		return run("xdp.show", NULL, NULL);
	return usage_error("%s", "xdp show");
}

static int
cmd_acl(int argc, char **argv)
{
	static const char *const cols[] = { "id", "action", "prefix", "app_id", "xdp", "dataplane",
					    NULL };
	json_t *args;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		int rc = run("acl.list", NULL, cols);
		json_t *x = NULL;

		/* what the deny rules dropped before the dataplane saw it */
		if (rc == 0 && !json_out && call("xdp.show", NULL, &x) == 0) {
			json_t *dd = json_object_get(json_object_get(x, "counters"), "drop_deny");

			if (json_is_true(json_object_get(x, "present")))
				printf("xdp pre-filter: drop_deny %lld packets, %lld bytes\n",
				       (long long)json_integer_value(json_object_get(dd, "packets")),
				       (long long)json_integer_value(json_object_get(dd, "bytes")));
			else
				printf("xdp pre-filter: none pinned for this instance (rules hold "
				       "at JOIN only)\n");
			json_decref(x);
		}
		return rc;
	}
	if (argc >= 4 && strcmp(argv[1], "add") == 0) {
		args = json_pack("{s:s,s:s}", "action", argv[2], "prefix", argv[3]);
		if (argc == 6 && strcmp(argv[4], "--app") == 0)
			json_object_set_new(args, "app_id", json_string(argv[5]));
		else if (argc != 4) {
			json_decref(args);
			return usage_error("%s", "acl add allow|deny PREFIX [--app APP_ID]");
		}
		return run("acl.add", args, NULL);
	}
	if (argc == 3 && strcmp(argv[1], "del") == 0)
		return run("acl.del", json_pack("{s:i}", "id", atoi(argv[2])), NULL);
	return usage_error("%s", "acl add allow|deny PREFIX [--app APP_ID] | acl del ID | acl list");
}

static int
cmd_audit(int argc, char **argv)
{
	static const char *const cols[] = { "seq", "t", "uid", "cmd", "result", NULL };

	if (argc >= 2 && strcmp(argv[1], "tail") == 0) {
		long n = argc > 2 ? strtol(argv[2], NULL, 10) : 20;

		if (n <= 0 || n > 100000)
			return usage_error("audit tail: '%s' is not a count", argc > 2 ? argv[2] : "");
		return run("audit.tail", json_pack("{s:i}", "n", (int)n), cols);
	}
	if (argc == 2 && strcmp(argv[1], "verify") == 0)
		return run("audit.verify", NULL, NULL);
	return usage_error("%s", "audit tail [N] | audit verify");
}

static int
cmd_status(int argc, char **argv)
{


	(void)argc;
	(void)argv;
	return run("status", NULL, NULL);
}

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "status", cmd_status, "status" },
	{ "app", cmd_app, "app add APP_ID --cert-file FILE [--name N] [--enc required|optional|off]\n"
	  "        [--max-channels N] [--max-members N] [--rate FPS] [--regions R1,R2]\n"
	  "    app set APP_ID [same options] [--enable|--disable]\n"
	  "    app del APP_ID | app list | app show APP_ID\n"
	  "    app cert add APP_ID --cert-file FILE | app cert promote APP_ID | app cert del APP_ID" },
	{ "channel", NULL, "channel list [--app APP_ID] | channel show APP_ID CHANNEL" },
	{ "member", NULL, "member list APP_ID CHANNEL | member kick MEMBER_ID [--ban]" },
	{ "node", cmd_node, "node show | node set --region CODE" },
	{ "stats", cmd_stats, "stats [--watch SECONDS [--count N]]   (from the stats segment)" },
	{ "acl", cmd_acl, "acl add allow|deny PREFIX [--app APP_ID] | acl del ID | acl list" },
	{ "audit", cmd_audit, "audit tail [N] | audit verify" },
	{ "xdp", cmd_xdp, "xdp show   (the XDP pre-filter: settings, deny rules loaded, counters)" },
	{ "token", cmd_token, "token new --app-id ID --cert-file FILE --channel NAME --uid N\n"
	  "        --role pub|sub [--privs audio,video,data] [--expire SECONDS]   (offline)" },
};

static void
help(void)
{
	size_t i;

	fprintf(stderr, "usage: rtrctl [--socket PATH] [--instance NAME] [--json] COMMAND ...\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "    %s\n", cmds[i].help);
}

int
main(int argc, char **argv)
{
	static char defsock[128];
	struct rlimit nocore = { 0, 0 };
	int i = 1;
	size_t k;

	/* a certificate passes through this process: no core dumps */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0);
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--json") == 0) {
			json_out = 1;
			i++;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			sock_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
			instance = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--help") == 0) {
			help();
			return 0;
		} else {
			fprintf(stderr, "rtrctl: unknown option '%s'\n", argv[i]);
			help();
			return EXIT_USAGE;
		}
	}
	if (sock_path == NULL) {
		snprintf(defsock, sizeof(defsock), "/run/rtrelay/%.32s.sock", instance);
		sock_path = defsock;
	}
	if (i >= argc) {
		help();
		return EXIT_USAGE;
	}
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(argv[i], cmds[k].name) != 0)
			continue;
		if (strcmp(cmds[k].name, "channel") == 0)
			return cmd_channel_member(argc - i, argv + i, 0);
		if (strcmp(cmds[k].name, "member") == 0)
			return cmd_channel_member(argc - i, argv + i, 1);
		return cmds[k].fn(argc - i, argv + i);
	}
	fprintf(stderr, "rtrctl: unknown command '%s'\n", argv[i]);
	help();
	return EXIT_USAGE;
}
