/* The config file parser (processor/config.h). A line is a comment (# or ;),
 * a [section] / [attributes "<metric glob>"] header, or `key = value`. Every
 * key has a type; a value that does not fit it, an unknown key or section,
 * or a key set twice is an error naming file:line and what was expected,
 * with a did-you-mean when a known name is close. Nothing is guessed. */
#include "processor/config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/prom.h"

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1 << 20)

enum csection { S_NONE = -1, S_PROCESSOR, S_EXPORT, S_METRICS, S_ATTRIBUTES, S_COUNT };

static const char *const section_names[S_COUNT] = { "processor", "export", "metrics", "attributes" };

enum ctype { T_PATH, T_UINT, T_BOOL, T_DURATION, T_LISTEN, T_URL, T_HEADERS, T_ROUTES, T_GLOBS };

struct ckey {
	enum csection section;
	const char *name;
	enum ctype type;
	size_t off;        /* field in struct config; unused for T_GLOBS */
	uint32_t min, max; /* T_UINT, T_DURATION (ms); T_PATH: max length */
};

#define OFF(f) offsetof(struct config, f)

static const struct ckey ckeys[] = {
	{ S_PROCESSOR, "socket", T_PATH, OFF(socket), 0, 100 },
	{ S_PROCESSOR, "jsonl", T_PATH, OFF(jsonl), 0, 4095 },
	{ S_PROCESSOR, "status", T_PATH, OFF(status), 0, 4095 },
	{ S_PROCESSOR, "state", T_PATH, OFF(state), 0, 4095 },
	{ S_PROCESSOR, "max_conns", T_UINT, OFF(max_conns), 16, 1u << 24 },
	{ S_PROCESSOR, "quiet", T_BOOL, OFF(quiet), 0, 0 },
	{ S_PROCESSOR, "verbose", T_BOOL, OFF(verbose), 0, 0 },
	{ S_EXPORT, "metrics_listen", T_LISTEN, OFF(metrics_listen), 0, 0 },
	{ S_EXPORT, "otlp_endpoint", T_URL, OFF(otlp_endpoint), 0, 0 },
	{ S_EXPORT, "otlp_traces_endpoint", T_URL, OFF(otlp_traces_endpoint), 0, 0 },
	{ S_EXPORT, "otlp_metrics_endpoint", T_URL, OFF(otlp_metrics_endpoint), 0, 0 },
	{ S_EXPORT, "otlp_headers", T_HEADERS, OFF(otlp_headers), 0, 0 },
	{ S_EXPORT, "otlp_traces", T_BOOL, OFF(otlp_traces), 0, 0 },
	{ S_EXPORT, "otlp_metrics", T_BOOL, OFF(otlp_metrics), 0, 0 },
	{ S_EXPORT, "otlp_interval", T_DURATION, OFF(otlp_interval_ms), 100, 3600000 },
	{ S_EXPORT, "otlp_timeout", T_DURATION, OFF(otlp_timeout_ms), 100, 600000 },
	{ S_EXPORT, "otlp_retry", T_DURATION, OFF(otlp_retry_ms), 0, 3600000 },
	{ S_EXPORT, "otlp_batch", T_UINT, OFF(otlp_batch), 1, 65536 },
	{ S_EXPORT, "otlp_queue", T_UINT, OFF(otlp_queue), 1, 1u << 20 },
	{ S_METRICS, "max_series", T_UINT, OFF(max_series), 1, 1000000 },
	{ S_METRICS, "routes", T_ROUTES, OFF(routes), 0, 0 },
	{ S_ATTRIBUTES, "include", T_GLOBS, 0, 0, 0 },
	{ S_ATTRIBUTES, "exclude", T_GLOBS, 0, 0, 0 },
};
#define NKEYS (sizeof(ckeys) / sizeof(ckeys[0]))

/* Parser state while reading one file. */
struct cparse {
	struct config *c;
	const char *name;           /* file name for messages */
	uint32_t line;
	enum csection section;
	bool bad_section;           /* its header was wrong: its keys are not checked */
	uint32_t key_line[NKEYS];   /* where each key was set; 0: not yet */
	uint32_t sel_line[2];       /* include, exclude of the current selector */
};

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->otlp_traces = true;
	c->otlp_metrics = true;
	c->otlp_interval_ms = 10000;
	c->otlp_timeout_ms = 10000;
	c->otlp_retry_ms = 30000;
	c->otlp_batch = 512;
	c->otlp_queue = 4096;
	c->max_series = METRICS_DEFAULT_MAX_SERIES;
	c->routes = true;
}

/* ---- errors ---- */

static void cerr(struct cparse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cerr(struct cparse *p, const char *fmt, ...)
{
	struct config *c = p->c;
	char msg[768];
	int n = 0;
	char *grown;
	va_list ap;

	if (++c->nerrors > CONFIG_MAX_ERRORS + 1)
		return;
	if (c->nerrors == CONFIG_MAX_ERRORS + 1)
		n = snprintf(msg, sizeof(msg), "%s: too many errors, stopped reporting\n", p->name);
	else {
		n = p->line ? snprintf(msg, sizeof(msg), "%s:%u: ", p->name, p->line)
			    : snprintf(msg, sizeof(msg), "%s: ", p->name);
		va_start(ap, fmt);
		n += vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
		va_end(ap);
		if (n > (int)sizeof(msg) - 2)
			n = (int)sizeof(msg) - 2;
		msg[n++] = '\n';
		msg[n] = 0;
	}
	if (!(grown = realloc(c->errors, c->errors_len + (size_t)n + 1)))
		return;
	c->errors = grown;
	memcpy(c->errors + c->errors_len, msg, (size_t)n + 1);
	c->errors_len += (size_t)n;
}

size_t config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Splits a dotted or snake_case name into words; returns how many. */
static size_t name_words(const char *s, char w[][24], size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		size_t len = strcspn(s, "._");

		snprintf(w[n++], 24, "%.*s", (int)(len < 23 ? len : 23), s);
		s += len + (s[len] != 0);
	}
	return n;
}

/* "http.method" -> "http.request.method", "http.server.duration" ->
 * "http.server.request.duration": the typed words all appear, in order, in
 * the candidate (older semconv names and half-remembered ones). Returns
 * the number of candidate words left over, or -1. */
static int words_within(const char *word, const char *cand)
{
	char a[8][24], b[8][24];
	size_t na = name_words(word, a, 8), nb = name_words(cand, b, 8), j = 0;

	if (na < 2)
		return -1;
	for (size_t i = 0; i < na; i++) {
		while (j < nb && strcmp(a[i], b[j]) != 0)
			j++;
		if (j++ >= nb)
			return -1;
	}
	return (int)(nb - na);
}

/* Keeps the closest candidate so far in *best if it is close enough to be
 * what the user meant: at most 2 edits (fewer than half the word), or the
 * typed words found in order within the candidate, which ranks after. */
static void closest(const char *word, const char *cand, const char **best, size_t *dist)
{
	size_t d = config_distance(word, cand);
	int extra;

	if (d > 2 || d * 2 >= strlen(word) + 1)
		d = (extra = words_within(word, cand)) >= 0 ? 3 + (size_t)extra : 99;
	if (d < 99 && d < *dist) {
		*best = cand;
		*dist = d;
	}
}

/* ---- values ---- */

static int parse_uint(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (!*v)
		return -1;
	for (; *v >= '0' && *v <= '9'; v++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return *v ? -1 : 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* "250ms", "10s", "2m", "1h" -> milliseconds. A unit is required: a bare
 * number could mean either, and guessing is what this parser refuses. */
static int parse_duration(const char *v, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char num[24];
	size_t digits = strspn(v, "0123456789");
	uint64_t n;

	if (digits == 0 || digits >= sizeof(num))
		return -1;
	memcpy(num, v, digits);
	num[digits] = 0;
	if (parse_uint(num, &n) < 0 || n > UINT32_MAX)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(v + digits, units[i].unit) == 0) {
			*ms = n * units[i].ms;
			return 0;
		}
	}
	return -1;
}

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* "name=value, name=value": HTTP header names and values without CR/LF. */
static bool valid_headers(const char *v)
{
	while (*v) {
		size_t name = 0;

		while (*v == ' ' || *v == '\t')
			v++;
		while (is_tchar(v[name]))
			name++;
		if (name == 0 || v[name] != '=')
			return false;
		v += name + 1;
		while (*v && *v != ',') {
			if ((unsigned char)*v < 0x20 && *v != '\t')
				return false;
			v++;
		}
		if (*v == ',' && !*++v)
			return false; /* a trailing comma: a pair is missing */
	}
	return true;
}

static bool valid_url(const char *v)
{
	const char *host = strncmp(v, "http://", 7) == 0 ? v + 7
			 : strncmp(v, "https://", 8) == 0 ? v + 8 : NULL;

	if (!host || !*host || *host == '/')
		return false;
	for (; *v; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f)
			return false;
	return true;
}

/* A value as shown in a message: printable, and short. */
static const char *shown(const char *v, char *buf, size_t n)
{
	size_t i = 0;

	for (; v[i] && i + 4 < n; i++)
		buf[i] = ((unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7f) ? v[i] : '?';
	if (v[i])
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = 0;
	return buf;
}

static const char *fmt_ms(uint32_t ms, char *buf, size_t n)
{
	if (ms % 3600000 == 0 && ms)
		snprintf(buf, n, "%uh", ms / 3600000);
	else if (ms % 60000 == 0 && ms)
		snprintf(buf, n, "%um", ms / 60000);
	else if (ms % 1000 == 0 && ms)
		snprintf(buf, n, "%us", ms / 1000);
	else
		snprintf(buf, n, "%ums", ms);
	return buf;
}

static void set_string(struct cparse *p, const struct ckey *k, const char *v)
{
	char **field = (char **)(void *)((char *)p->c + k->off);
	char *dup = strdup(v);

	if (!dup) {
		cerr(p, "out of memory");
		return;
	}
	free(*field);
	*field = dup;
}

/* What a type expects, for messages. */
static const char *expected(const struct ckey *k, char *buf, size_t n)
{
	char lo[16], hi[16];

	switch (k->type) {
	case T_PATH: snprintf(buf, n, "a path of at most %u bytes", k->max); break;
	case T_UINT: snprintf(buf, n, "an integer from %u to %u", k->min, k->max); break;
	case T_BOOL: snprintf(buf, n, "true or false"); break;
	case T_DURATION:
		snprintf(buf, n, "a duration from %s to %s, such as 500ms, 10s or 2m",
			 fmt_ms(k->min, lo, sizeof(lo)), fmt_ms(k->max, hi, sizeof(hi)));
		break;
	case T_LISTEN: snprintf(buf, n, "HOST:PORT ([::1]:PORT for IPv6) or none"); break;
	case T_URL: snprintf(buf, n, "an http:// or https:// URL"); break;
	case T_HEADERS: snprintf(buf, n, "name=value pairs separated by commas"); break;
	case T_ROUTES: snprintf(buf, n, "heuristic or none"); break;
	case T_GLOBS: snprintf(buf, n, "a comma-separated list of attribute names or globs"); break;
	}
	return buf;
}

/* Checks v against the key's type; stores it when it fits. */
static bool set_value(struct cparse *p, const struct ckey *k, const char *v)
{
	void *field = (char *)p->c + k->off;
	char host[256], port[8];
	uint64_t n = 0;
	bool b;

	switch (k->type) {
	case T_PATH:
		if (strlen(v) > k->max)
			return false;
		set_string(p, k, v);
		return true;
	case T_UINT:
	case T_DURATION:
		if ((k->type == T_UINT ? parse_uint(v, &n) : parse_duration(v, &n)) < 0 ||
		    n < k->min || n > k->max)
			return false;
		*(uint32_t *)field = (uint32_t)n;
		return true;
	case T_BOOL:
		if (parse_bool(v, &b) < 0)
			return false;
		*(bool *)field = b;
		return true;
	case T_ROUTES:
		if (strcmp(v, "heuristic") != 0 && strcmp(v, "none") != 0)
			return false;
		*(bool *)field = strcmp(v, "heuristic") == 0;
		return true;
	case T_LISTEN:
		if (strcmp(v, "none") != 0 &&
		    prom_parse_listen(v, host, sizeof(host), port, sizeof(port)) < 0)
			return false;
		break;
	case T_URL:
		if (!valid_url(v))
			return false;
		break;
	case T_HEADERS:
		if (!valid_headers(v))
			return false;
		break;
	case T_GLOBS:
		return false; /* handled by set_globs */
	}
	set_string(p, k, v);
	return true;
}

/* ---- [attributes "<metric glob>"] ---- */

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Checks a selector's metric name: a literal must name a metric whose
 * attributes can be selected; a glob must match at least one. */
static bool check_metric(struct cparse *p, const char *glob)
{
	const char *best = NULL;
	size_t dist = 99;
	char buf[80];
	int id;

	for (id = 0; id < M_COUNT; id++) {
		const struct metrics_def *d = &metrics_defs[id];

		if (d->selectable && (fnmatch(glob, d->name, 0) == 0 || fnmatch(glob, d->prom, 0) == 0))
			return true;
		if (d->selectable) {
			closest(glob, d->name, &best, &dist);
			closest(glob, d->prom, &best, &dist);
		}
	}
	shown(glob, buf, sizeof(buf));
	if (!has_glob(glob) && (id = metrics_find(glob)) >= 0)
		cerr(p, "metric '%s' has fixed attributes; [attributes] selects those of the "
			"http.* metrics", buf);
	else if (has_glob(glob))
		cerr(p, "'%s' matches no metric whose attributes can be selected", buf);
	else if (best)
		cerr(p, "unknown metric '%s' (did you mean '%s'?)", buf, best);
	else
		cerr(p, "unknown metric '%s'", buf);
	return false;
}

static void check_attribute(struct cparse *p, const char *name)
{
	const char *best = NULL;
	size_t dist = 99;
	char buf[80];

	if (has_glob(name) || metrics_key_find(name) >= 0)
		return;
	for (int k = 0; k < MK_MAX; k++) {
		closest(name, metrics_keys[k].name, &best, &dist);
		closest(name, metrics_keys[k].label, &best, &dist);
	}
	if (best)
		cerr(p, "unknown attribute '%s' (did you mean '%s'?)", shown(name, buf, sizeof(buf)), best);
	else
		cerr(p, "unknown attribute '%s'", shown(name, buf, sizeof(buf)));
}

static int add_selector(struct cparse *p, const char *glob)
{
	struct config *c = p->c;
	struct metrics_select *sel = realloc(c->select, (c->nselect + 1) * sizeof(*sel));
	uint32_t *lines;

	if (sel)
		c->select = sel;
	lines = realloc(c->select_line, (c->nselect + 1) * sizeof(*lines));
	if (lines)
		c->select_line = lines;
	if (!sel || !lines) {
		cerr(p, "out of memory");
		return -1;
	}
	memset(&sel[c->nselect], 0, sizeof(*sel));
	if (!(sel[c->nselect].metric = strdup(glob))) {
		cerr(p, "out of memory");
		return -1;
	}
	lines[c->nselect++] = p->line;
	return 0;
}

/* Splits "a, b*, c" into a NULL-terminated array; *n gets the count. */
static char **split_list(struct cparse *p, const char *v, size_t *n)
{
	size_t cap = 1;
	char **items;

	for (const char *q = v; *q; q++)
		cap += *q == ',';
	if (!(items = calloc(cap + 1, sizeof(*items))))
		return NULL;
	*n = 0;
	while (*v) {
		size_t len = strcspn(v, ","), a = 0, b = len;

		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (a == b)
			cerr(p, "empty item in the list");
		else if ((items[*n] = strndup(v + a, b - a)))
			check_attribute(p, items[(*n)++]);
		v += len + (v[len] == ',');
	}
	return items;
}

static void set_globs(struct cparse *p, bool include, const char *v)
{
	struct metrics_select *s = &p->c->select[p->c->nselect - 1];
	size_t n = 0;
	char **items = split_list(p, v, &n);

	if (!items) {
		cerr(p, "out of memory");
		return;
	}
	if (include) {
		s->include = (const char *const *)items;
		s->ninclude = n;
	} else {
		s->exclude = (const char *const *)items;
		s->nexclude = n;
	}
}

/* ---- lines ---- */

/* [name] or [attributes "glob"]; s is what is between the brackets. */
static void parse_section(struct cparse *p, char *s)
{
	size_t nlen = strcspn(s, " \t\""), dist = 99;
	char *arg = s + nlen, buf[80];
	const char *best = NULL;
	int i;

	arg += strspn(arg, " \t");
	s[nlen] = 0;
	p->section = S_NONE;
	p->bad_section = true;
	for (i = 0; i < S_COUNT && strcmp(s, section_names[i]) != 0; i++)
		closest(s, section_names[i], &best, &dist);
	if (i == S_COUNT) {
		if (best)
			cerr(p, "unknown section [%s] (did you mean [%s]?)", shown(s, buf, sizeof(buf)), best);
		else
			cerr(p, "unknown section [%s]; sections are [processor], [export], [metrics] "
				"and [attributes \"<metric>\"]", shown(s, buf, sizeof(buf)));
		return;
	}
	if (i != S_ATTRIBUTES) {
		if (*arg)
			cerr(p, "[%s] takes no name", s);
		else
			p->section = (enum csection)i, p->bad_section = false;
		return;
	}
	if (arg[0] != '"' || strlen(arg) < 3 || arg[strlen(arg) - 1] != '"' ||
	    strchr(arg + 1, '"') != arg + strlen(arg) - 1) {
		cerr(p, "expected a quoted metric name or glob: [attributes \"http.server.request.duration\"]");
		return;
	}
	arg[strlen(arg) - 1] = 0;
	if (check_metric(p, arg + 1) && add_selector(p, arg + 1) == 0) {
		p->section = S_ATTRIBUTES;
		p->bad_section = false;
		p->sel_line[0] = p->sel_line[1] = 0;
	}
}

/* An unknown key: where it belongs, or what is close, or what exists. */
static void unknown_key(struct cparse *p, const char *key)
{
	const char *best = NULL, *sec = section_names[p->section];
	char list[512] = "", buf[80];
	size_t dist = 99, len = 0;

	shown(key, buf, sizeof(buf));
	for (size_t i = 0; i < NKEYS; i++) {
		if (ckeys[i].section != p->section) {
			if (strcmp(key, ckeys[i].name) == 0) {
				cerr(p, "'%s' belongs in [%s], not [%s]", buf,
				     section_names[ckeys[i].section], sec);
				return;
			}
			continue;
		}
		closest(key, ckeys[i].name, &best, &dist);
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
					ckeys[i].name);
	}
	if (best)
		cerr(p, "unknown key '%s' in [%s] (did you mean '%s'?)", buf, sec, best);
	else
		cerr(p, "unknown key '%s' in [%s]; known keys: %s", buf, sec, list);
}

static void parse_key(struct cparse *p, const char *key, const char *v)
{
	const struct ckey *k = NULL;
	uint32_t *seen;
	char buf[80], want[128];
	size_t i;

	for (i = 0; i < NKEYS && !k; i++)
		if (ckeys[i].section == p->section && strcmp(ckeys[i].name, key) == 0)
			k = &ckeys[i];
	if (!k) {
		unknown_key(p, key);
		return;
	}
	seen = k->type == T_GLOBS ? &p->sel_line[strcmp(key, "include") != 0]
				  : &p->key_line[k - ckeys];
	if (*seen) {
		cerr(p, "'%s' is already set on line %u", key, *seen);
		return;
	}
	*seen = p->line;
	if (!*v)
		cerr(p, "'%s' needs a value: %s", key, expected(k, want, sizeof(want)));
	else if (k->type == T_GLOBS)
		set_globs(p, strcmp(key, "include") == 0, v);
	else if (!set_value(p, k, v))
		cerr(p, "%s in [%s]: expected %s, got '%s'", key, section_names[p->section],
		     expected(k, want, sizeof(want)), shown(v, buf, sizeof(buf)));
}

static char *trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = 0;
	return s;
}

/* The value after '=': "quoted" (may hold #), or bare up to a " #" comment. */
static char *parse_value(struct cparse *p, char *v)
{
	char *hash;

	v = trim(v);
	if (*v == '"') {
		char *end = strchr(v + 1, '"'), *rest = end ? trim(end + 1) : NULL;

		if (!end || (*rest && *rest != '#')) {
			cerr(p, "unterminated quoted value, or text after its closing quote");
			return NULL;
		}
		*end = 0;
		return v + 1;
	}
	for (hash = strchr(v, '#'); hash; hash = strchr(hash + 1, '#')) {
		if (hash == v || hash[-1] == ' ' || hash[-1] == '\t') {
			*hash = 0;
			break;
		}
	}
	return trim(v);
}

static void parse_line(struct cparse *p, const char *text, size_t n)
{
	char line[CONFIG_LINE_MAX + 1], *s, *eq, *v, buf[80];

	if (n > CONFIG_LINE_MAX) {
		cerr(p, "line longer than %d bytes", CONFIG_LINE_MAX);
		return;
	}
	if (memchr(text, 0, n)) {
		cerr(p, "NUL byte in the line: this is not a text file");
		return;
	}
	memcpy(line, text, n);
	line[n] = 0;
	s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		char *end = strrchr(s, ']');

		if (!end || *trim(end + 1)) {
			p->section = S_NONE;
			p->bad_section = true;
			cerr(p, "expected ']' at the end of the section header");
			return;
		}
		*end = 0;
		parse_section(p, trim(s + 1));
		return;
	}
	if (!(eq = strchr(s, '=')) || eq == s) {
		cerr(p, "expected 'key = value', a [section] or a # comment, got '%s'", shown(s, buf, sizeof(buf)));
		return;
	}
	*eq = 0;
	s = trim(s);
	if (p->section == S_NONE) {
		if (!p->bad_section)
			cerr(p, "'%s' is outside any section; keys go under [processor], [export], "
				"[metrics] or [attributes \"<metric>\"]", shown(s, buf, sizeof(buf)));
		return;
	}
	if ((v = parse_value(p, eq + 1)))
		parse_key(p, s, v);
}

int config_parse(struct config *c, const char *name, const char *text, size_t len)
{
	struct cparse p = { .c = c, .name = name, .section = S_NONE };
	int before = c->nerrors;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		parse_line(&p, text + pos, n);
		pos += n + 1;
	}
	return c->nerrors - before;
}

int config_load(struct config *c, const char *path, bool explicit)
{
	struct cparse p = { .c = c, .name = path };
	char *text;
	size_t len;
	FILE *f;

	config_defaults(c);
	if (!(f = fopen(path, "r"))) {
		if (errno == ENOENT && !explicit)
			return 0; /* no file at the default place: defaults and flags */
		cerr(&p, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (!(text = malloc(CONFIG_FILE_MAX + 1))) {
		fclose(f);
		cerr(&p, "out of memory");
		return -1;
	}
	len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f))
		cerr(&p, "cannot read: %s", strerror(errno));
	else if (len > CONFIG_FILE_MAX)
		cerr(&p, "larger than %d bytes: not a config file", CONFIG_FILE_MAX);
	else
		config_parse(c, path, text, len);
	fclose(f);
	free(text);
	return c->nerrors ? -1 : 0;
}

static void free_list(const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)l[i]);
	free((void *)l);
}

void config_free(struct config *c)
{
	char **strs[] = {
		&c->socket, &c->jsonl, &c->status, &c->state, &c->metrics_listen, &c->otlp_endpoint,
		&c->otlp_traces_endpoint, &c->otlp_metrics_endpoint, &c->otlp_headers, &c->errors,
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < c->nselect; i++) {
		free((char *)c->select[i].metric);
		free_list(c->select[i].include, c->select[i].ninclude);
		free_list(c->select[i].exclude, c->select[i].nexclude);
	}
	free(c->select);
	free(c->select_line);
	c->select = NULL;
	c->select_line = NULL;
	c->nselect = 0;
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
	       const char *origin)
{
	struct cparse p = { .c = c, .name = origin, .section = S_NONE };
	int before = c->nerrors;

	for (int i = 0; i < S_COUNT; i++)
		if (strcmp(section, section_names[i]) == 0)
			p.section = (enum csection)i;
	if (p.section == S_NONE || p.section == S_ATTRIBUTES)
		cerr(&p, "no section [%s] for '%s'", section, key);
	else
		parse_key(&p, key, value);
	return c->nerrors - before;
}
