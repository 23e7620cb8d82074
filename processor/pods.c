/* Pod list parsing: a JSON tokenizer (strict about structure and strings;
 * numbers and literals are only checked for their alphabet, pods never use
 * them) into a flat token array where each token knows where its subtree
 * ends, so lookups skip whole values; then the handful of lookups a pod
 * needs. No allocation beyond the tokens and the result; recursion is
 * bounded by PODS_DEPTH_MAX. */
#include "processor/pods.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

enum { JT_OBJ = 1, JT_ARR, JT_STR, JT_PRIM };

struct jtok {
	uint8_t type;
	uint32_t start, len; /* STR: the raw bytes between the quotes */
	uint32_t next;       /* index of the first token after this value's subtree */
};

struct jp {
	const char *s;
	size_t n, pos;
	struct jtok *t;
	uint32_t nt, cap;
	const char *err;
};

static void jp_ws(struct jp *p)
{
	while (p->pos < p->n && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
		p->pos++;
}

static int jp_fail(struct jp *p, const char *why)
{
	if (!p->err)
		p->err = why;
	return -1;
}

static int jp_tok(struct jp *p, uint8_t type)
{
	if (p->nt == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 1024;

		if (p->nt >= PODS_TOKENS_MAX)
			return jp_fail(p, "more than 8388608 JSON values");
		struct jtok *t = realloc(p->t, (size_t)cap * sizeof(*t));

		if (!t)
			return jp_fail(p, "out of memory");
		p->t = t;
		p->cap = cap;
	}
	p->t[p->nt] = (struct jtok){ .type = type, .start = (uint32_t)p->pos };
	return (int)p->nt++;
}

static int jp_string(struct jp *p)
{
	int i = jp_tok(p, JT_STR);

	if (i < 0)
		return -1;
	p->t[i].start = (uint32_t)++p->pos; /* past the quote */
	while (p->pos < p->n && p->s[p->pos] != '"') {
		unsigned char ch = (unsigned char)p->s[p->pos];

		if (ch < 0x20)
			return jp_fail(p, "control character in a string");
		if (ch == '\\') {
			if (++p->pos >= p->n || !strchr("\"\\/bfnrtu", p->s[p->pos]) || !p->s[p->pos])
				return jp_fail(p, "bad escape in a string");
			if (p->s[p->pos] == 'u') {
				for (int k = 1; k <= 4; k++)
					if (p->pos + k >= p->n || !strchr("0123456789abcdefABCDEF",
									  p->s[p->pos + k]) ||
					    !p->s[p->pos + k])
						return jp_fail(p, "bad \\u escape");
				p->pos += 4;
			}
		}
		p->pos++;
	}
	if (p->pos >= p->n)
		return jp_fail(p, "unterminated string");
	p->t[i].len = (uint32_t)p->pos - p->t[i].start;
	p->pos++;
	p->t[i].next = p->nt;
	return 0;
}

/* Numbers, true, false, null: checked for their alphabet only; pods never
 * need their values, and every valid one passes. */
static int jp_prim(struct jp *p)
{
	int i = jp_tok(p, JT_PRIM);
	size_t k = 0;

	if (i < 0)
		return -1;
	while (p->pos + k < p->n && p->s[p->pos + k] &&
	       strchr("0123456789+-.eEtrufalsn", p->s[p->pos + k]))
		k++;
	if (k == 0)
		return jp_fail(p, "unexpected character");
	p->pos += k;
	p->t[i].len = (uint32_t)k;
	p->t[i].next = p->nt;
	return 0;
}

static int jp_value(struct jp *p, int depth);

/* Objects and arrays: members separated by commas, keys are strings. */
static int jp_container(struct jp *p, int depth)
{
	bool obj = p->s[p->pos] == '{';
	char close = obj ? '}' : ']';
	int i = jp_tok(p, obj ? JT_OBJ : JT_ARR);

	if (i < 0)
		return -1;
	if (depth >= PODS_DEPTH_MAX)
		return jp_fail(p, "nested too deeply");
	p->pos++;
	jp_ws(p);
	if (p->pos < p->n && p->s[p->pos] == close)
		goto done;
	for (;;) {
		jp_ws(p);
		if (obj) {
			if (p->pos >= p->n || p->s[p->pos] != '"' || jp_string(p) < 0)
				return jp_fail(p, "expected a key");
			jp_ws(p);
			if (p->pos >= p->n || p->s[p->pos++] != ':')
				return jp_fail(p, "expected ':'");
		}
		if (jp_value(p, depth + 1) < 0)
			return -1;
		jp_ws(p);
		if (p->pos < p->n && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->n && p->s[p->pos] == close)
			break;
		return jp_fail(p, "expected ',' or a closing bracket");
	}
done:
	p->pos++;
	p->t[i].next = p->nt;
	return 0;
}

static int jp_value(struct jp *p, int depth)
{
	jp_ws(p);
	if (p->pos >= p->n)
		return jp_fail(p, "unexpected end");
	if (p->s[p->pos] == '{' || p->s[p->pos] == '[')
		return jp_container(p, depth);
	if (p->s[p->pos] == '"')
		return jp_string(p);
	return jp_prim(p);
}

/* The value of `key` in object token i, or -1. Keys are compared raw:
 * Kubernetes field names carry no escapes. */
static int jp_get(const struct jp *p, int i, const char *key)
{
	size_t klen = strlen(key);

	if (i < 0 || p->t[i].type != JT_OBJ)
		return -1;
	for (uint32_t k = (uint32_t)i + 1; k < p->t[i].next; k = p->t[k + 1].next) {
		const struct jtok *kt = &p->t[k];

		if (kt->len == klen && memcmp(p->s + kt->start, key, klen) == 0)
			return (int)k + 1;
	}
	return -1;
}

static size_t utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	o[0] = (char)(0xe0 | cp >> 12);
	o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* One escape at s (after the backslash) into o; returns bytes written and
 * advances *s past the escape. Non-BMP and surrogates become U+FFFD. */
static size_t jp_unescape(const char **s, char *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e = *s;

	if (*e != 'u') {
		*s = e + 1;
		*o = to[strchr(from, *e) - from];
		return 1;
	}
	uint32_t cp = (uint32_t)strtoul((char[5]){ e[1], e[2], e[3], e[4], 0 }, NULL, 16);
	*s = e + 5;
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	return utf8_put(o, cp);
}

/* Copies string token i (unescaped, cut to fit) into out; "" if not a string. */
static void jp_str(const struct jp *p, int i, char *out, size_t size)
{
	const char *s, *end;
	size_t n = 0;

	out[0] = 0;
	if (i < 0 || p->t[i].type != JT_STR)
		return;
	s = p->s + p->t[i].start;
	end = s + p->t[i].len;
	while (s < end && n + 4 < size) {
		if (*s == '\\') {
			s++;
			n += jp_unescape(&s, out + n);
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = 0;
}

static bool jp_is_true(const struct jp *p, int i)
{
	return i >= 0 && p->t[i].type == JT_PRIM && p->t[i].len == 4 &&
	       memcmp(p->s + p->t[i].start, "true", 4) == 0;
}

/* The controlling owner reference, else the first one. */
static void pod_owner(const struct jp *p, int md, struct pod_meta *pm)
{
	int refs = jp_get(p, md, "ownerReferences"), pick = -1;

	if (refs < 0 || p->t[refs].type != JT_ARR)
		return;
	for (uint32_t k = (uint32_t)refs + 1; k < p->t[refs].next; k = p->t[k].next) {
		if (pick < 0 || jp_is_true(p, jp_get(p, (int)k, "controller")))
			pick = (int)k;
		if (jp_is_true(p, jp_get(p, (int)k, "controller")))
			break;
	}
	jp_str(p, jp_get(p, pick, "kind"), pm->owner_kind, sizeof(pm->owner_kind));
	jp_str(p, jp_get(p, pick, "name"), pm->owner_name, sizeof(pm->owner_name));
}

static void pod_qos(const struct jp *p, int pod, struct pod_meta *pm)
{
	char q[32];

	jp_str(p, jp_get(p, jp_get(p, pod, "status"), "qosClass"), q, sizeof(q));
	if (strcmp(q, "Guaranteed") == 0)
		strcpy(pm->qos, "guaranteed");
	else if (strcmp(q, "Burstable") == 0)
		strcpy(pm->qos, "burstable");
	else if (strcmp(q, "BestEffort") == 0)
		strcpy(pm->qos, "besteffort");
}

/* Fills pm from Pod object token i; false when it has no metadata.uid. */
static bool pod_from(const struct jp *p, int i, struct pod_meta *pm)
{
	int md = jp_get(p, i, "metadata");

	memset(pm, 0, sizeof(*pm));
	jp_str(p, jp_get(p, md, "uid"), pm->uid, sizeof(pm->uid));
	if (!pm->uid[0])
		return false;
	jp_str(p, jp_get(p, md, "name"), pm->name, sizeof(pm->name));
	jp_str(p, jp_get(p, md, "namespace"), pm->namespace, sizeof(pm->namespace));
	jp_str(p, jp_get(p, jp_get(p, i, "spec"), "nodeName"), pm->node, sizeof(pm->node));
	pod_owner(p, md, pm);
	pod_qos(p, i, pm);
	return true;
}

/* The pod objects: the elements of "items", or the top-level Pod itself. */
static int pods_range(const struct jp *p, uint32_t *first, uint32_t *end)
{
	int items = jp_get(p, 0, "items");

	if (items >= 0 && p->t[items].type == JT_ARR) {
		*first = (uint32_t)items + 1;
		*end = p->t[items].next;
		return 0;
	}
	if (jp_get(p, 0, "metadata") < 0)
		return -EINVAL;
	*first = 0;
	*end = 1;
	return 0;
}

static int pods_collect(const struct jp *p, struct pod_meta **out, char *err, size_t errlen)
{
	uint32_t first, end, count = 0;
	int n = 0;

	if (pods_range(p, &first, &end) < 0) {
		snprintf(err, errlen, "neither a PodList (\"items\") nor a Pod (\"metadata\")");
		return -EINVAL;
	}
	for (uint32_t k = first; k < end; k = p->t[k].next)
		count++;
	if (count > PODS_MAX) {
		snprintf(err, errlen, "more than %d pods", PODS_MAX);
		return -E2BIG;
	}
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (uint32_t k = first; k < end; k = p->t[k].next)
		n += pod_from(p, (int)k, &(*out)[n]);
	return n;
}

/* Tokenizes buf into p (one JSON object, nothing after it). 0, or
 * -EINVAL/-E2BIG with err filled and p->t freed. */
static int jp_parse(struct jp *p, const char *buf, size_t len, size_t max, char *err,
		    size_t errlen)
{
	*p = (struct jp){ .s = buf, .n = len };
	if (len > max) {
		snprintf(err, errlen, "larger than %zu bytes", max);
		return -E2BIG;
	}
	if (jp_value(p, 0) == 0) {
		jp_ws(p);
		if (p->pos != p->n)
			jp_fail(p, "trailing data after the JSON value");
	}
	if (p->err || p->t[0].type != JT_OBJ) {
		if (p->err)
			snprintf(err, errlen, "invalid JSON: %s at byte %zu", p->err, p->pos);
		else
			snprintf(err, errlen, "the top level is not a JSON object");
		free(p->t);
		p->t = NULL;
		return -EINVAL;
	}
	return 0;
}

int pods_parse_list(const char *buf, size_t len, struct pod_meta **out, char *rv, size_t rvlen,
		    char *err, size_t errlen)
{
	struct jp p;
	int rc;

	*out = NULL;
	if (rv && rvlen)
		rv[0] = 0;
	if ((rc = jp_parse(&p, buf, len, PODS_FILE_MAX, err, errlen)) < 0)
		return rc;
	rc = pods_collect(&p, out, err, errlen);
	if (rc >= 0 && rv && rvlen)
		jp_str(&p, jp_get(&p, jp_get(&p, 0, "metadata"), "resourceVersion"), rv, rvlen);
	free(p.t);
	return rc;
}

int pods_parse_json(const char *buf, size_t len, struct pod_meta **out, char *err, size_t errlen)
{
	return pods_parse_list(buf, len, out, NULL, 0, err, errlen);
}

/* A JSON number token's value when it is a plain integer of at most 9
 * digits (HTTP-like status codes), else 0. */
static int jp_int(const struct jp *p, int i)
{
	int v = 0;

	if (i < 0 || p->t[i].type != JT_PRIM || p->t[i].len == 0 || p->t[i].len > 9)
		return 0;
	for (uint32_t k = 0; k < p->t[i].len; k++) {
		char c = p->s[p->t[i].start + k];

		if (c < '0' || c > '9')
			return 0;
		v = v * 10 + (c - '0');
	}
	return v;
}

/* A Status object (an API error): its code and message, or its reason. */
static void status_from(const struct jp *p, int i, struct pod_event *ev)
{
	ev->type = POD_EV_ERROR;
	ev->code = jp_int(p, jp_get(p, i, "code"));
	jp_str(p, jp_get(p, i, "message"), ev->message, sizeof(ev->message));
	if (!ev->message[0])
		jp_str(p, jp_get(p, i, "reason"), ev->message, sizeof(ev->message));
}

static int event_type(const char *t)
{
	static const char *const names[] = { [POD_EV_ADDED] = "ADDED",
					     [POD_EV_MODIFIED] = "MODIFIED",
					     [POD_EV_DELETED] = "DELETED",
					     [POD_EV_BOOKMARK] = "BOOKMARK",
					     [POD_EV_ERROR] = "ERROR" };

	for (int i = POD_EV_ADDED; i <= POD_EV_ERROR; i++)
		if (strcmp(t, names[i]) == 0)
			return i;
	return 0;
}

static int event_from(const struct jp *p, struct pod_event *ev, char *err, size_t errlen)
{
	int obj = jp_get(p, 0, "object");
	char type[16], kind[16];

	jp_str(p, jp_get(p, 0, "type"), type, sizeof(type));
	if (!type[0]) {
		/* not an event: an API error body is a bare Status */
		jp_str(p, jp_get(p, 0, "kind"), kind, sizeof(kind));
		if (strcmp(kind, "Status") != 0) {
			snprintf(err, errlen, "neither a watch event (\"type\") nor a Status");
			return -EINVAL;
		}
		status_from(p, 0, ev);
		return 0;
	}
	if (!(ev->type = event_type(type))) {
		snprintf(err, errlen, "unknown watch event type \"%s\"", type);
		return -EINVAL;
	}
	if (obj < 0 || p->t[obj].type != JT_OBJ) {
		snprintf(err, errlen, "a %s watch event without an object", type);
		return -EINVAL;
	}
	if (ev->type == POD_EV_ERROR) {
		status_from(p, obj, ev);
		return 0;
	}
	jp_str(p, jp_get(p, jp_get(p, obj, "metadata"), "resourceVersion"), ev->rv, sizeof(ev->rv));
	if (ev->type == POD_EV_BOOKMARK)
		return 0;
	if (!pod_from(p, obj, &ev->pod)) {
		snprintf(err, errlen, "a %s watch event for a pod without metadata.uid", type);
		return -EINVAL;
	}
	return 0;
}

int pods_parse_event(const char *buf, size_t len, struct pod_event *ev, char *err, size_t errlen)
{
	struct jp p;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if ((rc = jp_parse(&p, buf, len, PODS_EVENT_MAX, err, errlen)) < 0)
		return rc;
	rc = event_from(&p, ev, err, errlen);
	free(p.t);
	if (rc < 0)
		memset(ev, 0, sizeof(*ev));
	return rc;
}

static int pods_read(const char *path, off_t size, char **buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;

	if (fd < 0)
		return -errno;
	*buf = malloc((size_t)size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < size && (r = read(fd, *buf + n, (size_t)(size - n))) > 0)
		n += r;
	close(fd);
	return (int)n; /* a file cut while being rewritten fails to parse, and is retried */
}

static int pods_load(struct pods_file *pf, off_t size, struct pod_meta **out)
{
	char err[160] = "";
	char *buf = NULL;
	int n;

	if (size > (off_t)PODS_FILE_MAX) {
		log_warn("--pods-file %s: larger than %u bytes, ignored", pf->path, PODS_FILE_MAX);
		return -E2BIG;
	}
	n = pods_read(pf->path, size, &buf);
	if (n >= 0)
		n = pods_parse_json(buf, (size_t)n, out, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", strerror(-n));
	free(buf);
	if (n < 0)
		log_warn("--pods-file %s: %s; keeping the pods known before", pf->path, err);
	else
		log_info("--pods-file %s: %d pods", pf->path, n);
	return n;
}

int pods_file_poll(struct pods_file *pf, struct pod_meta **out)
{
	struct stat st;
	int64_t mtime;

	*out = NULL;
	if (stat(pf->path, &st) < 0) {
		int err = errno;

		if (pf->seen != -1)
			log_warn("--pods-file %s: %s (pods keep their cgroup-derived uid and QoS)",
				 pf->path, strerror(err));
		pf->seen = -1; /* warn again only after it was back */
		return -err;
	}
	mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (pf->seen == 1 && st.st_dev == pf->dev && st.st_ino == pf->ino &&
	    st.st_size == pf->size && mtime == pf->mtime_ns)
		return 0;
	pf->seen = 1;
	pf->dev = st.st_dev;
	pf->ino = st.st_ino;
	pf->size = st.st_size;
	pf->mtime_ns = mtime;
	return pods_load(pf, st.st_size, out);
}
