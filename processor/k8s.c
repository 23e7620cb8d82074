/* Pods from the Kubernetes API (processor/k8s.h): one thread lists and
 * watches the node's pods with libcurl and leaves what it learns in a
 * hand-over area (a list and the changes after it) that the main thread
 * swaps out. Every input is bounded: a list by PODS_FILE_MAX, a watch line
 * by K8S_LINE_MAX, an error body by K8S_ERROR_BODY_MAX, the changes waiting
 * by K8S_CHANGES_MAX; going over one is counted and resynced by listing
 * again, never grown into. Parsing is pods.c's (fuzzed: podevent_fuzz). */
#include "processor/k8s.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"

#ifndef SLUICE_VERSION /* the Makefile defines it; fuzz builds may not */
#define SLUICE_VERSION "unknown"
#endif
#define K8S_ERROR_BODY_MAX (64u * 1024)
#define K8S_LOG_REPEAT_NS (600ULL * 1000000000ULL) /* an unchanged error: logged this often */
#define K8S_CONNECT_TIMEOUT_MS 10000L
#define K8S_LIST_TIMEOUT_MS 60000L
/* the client's own limit on a watch, in case a server ignores timeoutSeconds */
#define K8S_WATCH_CLIENT_TIMEOUT_MS ((K8S_WATCH_TIMEOUT_S + 30) * 1000L)
#define K8S_QUICK_WATCH_NS 1000000000ULL /* an empty watch shorter than this: pause */
#define K8S_GOOD_WATCH_NS 10000000000ULL /* a watch this long resets the backoff */

enum req { REQ_LIST, REQ_WATCH };
/* How a request ended. */
enum end { END_OK, END_GONE, END_RESYNC, END_ERROR, END_STOP };

struct k8s {
	char api[256], node[256];
	char token_path[224], ca_path[224];
	bool tls, have_ca;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stop, relist;
	/* under lock: the hand-over area and the status */
	struct k8s_batch out;
	int changes_cap;
	struct k8s_status st;
	/* the thread's own */
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char tok[K8S_TOKEN_MAX + 1];
	char *node_esc;
	char rv[PODS_FIELD_MAX];   /* where the next watch starts; "": list first */
	char *buf;                 /* a list body, one watch line, or an error body */
	size_t len, cap;
	enum req req;
	long code;                 /* HTTP status of the request in flight; 0 until known */
	enum end end;              /* set when on_data cuts the transfer */
	char why[640];             /* ...and why */
	uint64_t got;              /* events in the current watch */
	bool listed;               /* a list succeeded once (later ones are relists) */
	char logged[640];          /* the last error logged, and when */
	uint64_t logged_ns, gone_logged_ns;
	uint32_t failures;         /* in a row */
	uint32_t backoff_ms;
	uint64_t rng;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- configuration ---- */

static bool in_cluster(void)
{
	const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");

	return h && *h && p && *p;
}

int k8s_mode(const char *mode, const char *api, bool pods_file, char *err, size_t errlen)
{
	if (!mode || strcmp(mode, "auto") == 0)
		return api || (in_cluster() && !pods_file);
	if (strcmp(mode, "off") == 0)
		return 0;
	if (strcmp(mode, "on") != 0) {
		snprintf(err, errlen, "--k8s: '%s' is not auto, on or off", mode);
		return -1;
	}
	if (!api && !in_cluster()) {
		snprintf(err, errlen, "--k8s on: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
				      "are not set (not running in a pod?) and no --k8s-api was given");
		return -1;
	}
	return 1;
}

static bool only(const char *s, const char *alphabet)
{
	return *s && strspn(s, alphabet) == strlen(s);
}

static int api_url(struct k8s *k, const char *api, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	size_t n;

	if (api) {
		if (strncmp(api, "https://", 8) != 0 && strncmp(api, "http://", 7) != 0) {
			snprintf(err, errlen, "--k8s-api: '%s' is not an http:// or https:// URL", api);
			return -1;
		}
		if (strlen(api) >= sizeof(k->api) || strpbrk(api, "?# \t\r\n")) {
			snprintf(err, errlen, "--k8s-api: '%s' is too long or has a query, a fragment "
					      "or white space", api);
			return -1;
		}
		snprintf(k->api, sizeof(k->api), "%s", api);
	} else {
		if (!host || !port || !only(host, "abcdefghijklmnopqrstuvwxyz"
						  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-_") ||
		    !only(port, "0123456789") || strlen(port) > 5 || atoi(port) > 65535 ||
		    strlen(host) > 200) {
			snprintf(err, errlen, "KUBERNETES_SERVICE_HOST '%s' / KUBERNETES_SERVICE_PORT "
					      "'%s' do not make an API address", host ? host : "",
				 port ? port : "");
			return -1;
		}
		snprintf(k->api, sizeof(k->api), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
			 host, port);
	}
	n = strlen(k->api);
	while (n > 0 && k->api[n - 1] == '/')
		k->api[--n] = 0;
	k->tls = strncmp(k->api, "https://", 8) == 0;
	return 0;
}

/* --node-name, $NODE_NAME (the downward API), else the hostname, which
 * the kubelet uses as the node's name unless told otherwise. */
static int node_name(struct k8s *k, const char *node, char *err, size_t errlen)
{
	const char *env = getenv("NODE_NAME");

	if (node && *node)
		snprintf(k->node, sizeof(k->node), "%s", node);
	else if (env && *env)
		snprintf(k->node, sizeof(k->node), "%s", env);
	else if (gethostname(k->node, sizeof(k->node) - 1) == 0)
		for (char *c = k->node; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	else
		k->node[0] = 0;
	if (strlen(k->node) > 253 ||
	    !only(k->node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")) {
		snprintf(err, errlen, "node name '%.64s' (--node-name, $NODE_NAME or the hostname) is "
				      "not a Kubernetes node name", k->node);
		return -1;
	}
	return 0;
}

/* ---- status, logging, backoff ---- */

static void set_rv(struct k8s *k, const char *rv)
{
	if (!rv[0])
		return;
	snprintf(k->rv, sizeof(k->rv), "%s", rv);
	pthread_mutex_lock(&k->lock);
	snprintf(k->st.rv, sizeof(k->st.rv), "%s", rv);
	pthread_mutex_unlock(&k->lock);
}

static void set_connected(struct k8s *k, bool up)
{
	pthread_mutex_lock(&k->lock);
	k->st.connected = up;
	pthread_mutex_unlock(&k->lock);
}

/* A request failed: counted, shown in the status, logged when the reason
 * changes (or every 10 minutes while it does not). */
static void fail(struct k8s *k, const char *why)
{
	uint64_t now = mono_ns();

	pthread_mutex_lock(&k->lock);
	k->st.errors++;
	k->st.connected = false;
	snprintf(k->st.last_error, sizeof(k->st.last_error), "%s", why);
	pthread_mutex_unlock(&k->lock);
	k->failures++;
	if (strcmp(why, k->logged) == 0 && now - k->logged_ns < K8S_LOG_REPEAT_NS)
		return;
	if (k->failures > 1)
		log_warn("Kubernetes API %s: %s (%u failures in a row; retrying, at most every %d s)",
			 k->api, why, k->failures, K8S_BACKOFF_MAX_MS / 1000);
	else
		log_warn("Kubernetes API %s: %s (retrying)", k->api, why);
	snprintf(k->logged, sizeof(k->logged), "%s", why);
	k->logged_ns = now;
}

static void working(struct k8s *k)
{
	set_connected(k, true);
	if (k->failures)
		log_info("Kubernetes API %s: working again after %u failed attempt%s", k->api,
			 k->failures, k->failures > 1 ? "s" : "");
	k->failures = 0;
	k->logged[0] = 0;
}

/* Sleeps ms, or until stopped. */
static void pause_ms(struct k8s *k, uint32_t ms)
{
	struct timespec ts;
	uint64_t until = mono_ns() + (uint64_t)ms * 1000000ULL;

	ts.tv_sec = (time_t)(until / 1000000000ULL);
	ts.tv_nsec = (long)(until % 1000000000ULL);
	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stop) &&
	       pthread_cond_timedwait(&k->wake, &k->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&k->lock);
}

/* The next backoff, 1 s doubling to 30 s, with +-20% jitter so that the
 * agents of a whole cluster do not come back in step after an outage. */
static void back_off(struct k8s *k)
{
	uint32_t ms = k->backoff_ms ? k->backoff_ms : K8S_BACKOFF_MIN_MS;

	k->backoff_ms = ms * 2 > K8S_BACKOFF_MAX_MS ? K8S_BACKOFF_MAX_MS : ms * 2;
	k->rng ^= k->rng << 13;
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	pause_ms(k, ms - ms / 5 + (uint32_t)(k->rng % (2 * (ms / 5) + 1)));
}

/* ---- hand-over ---- */

static void post_list(struct k8s *k, struct pod_meta *pods, int n)
{
	pthread_mutex_lock(&k->lock);
	k8s_batch_free(&k->out); /* older than this list: superseded */
	k->changes_cap = 0;
	k->out.has_list = true;
	k->out.list = pods;
	k->out.nlist = n;
	k->st.lists++;
	k->st.relists += k->listed;
	pthread_mutex_unlock(&k->lock);
	k->listed = true;
}

static int post_change(struct k8s *k, const struct pod_event *ev)
{
	int rc = 0;

	pthread_mutex_lock(&k->lock);
	if (k->out.nchanges == k->changes_cap) {
		int cap = k->changes_cap ? k->changes_cap * 2 : 64;
		struct k8s_change *c = NULL;

		if (cap > K8S_CHANGES_MAX)
			cap = K8S_CHANGES_MAX;
		if (k->out.nchanges < cap)
			c = realloc(k->out.changes, (size_t)cap * sizeof(*c));
		if (!c) {
			k->st.overflows++;
			rc = -1;
			goto out;
		}
		k->out.changes = c;
		k->changes_cap = cap;
	}
	k->out.changes[k->out.nchanges++] =
		(struct k8s_change){ .deleted = ev->type == POD_EV_DELETED, .pod = ev->pod };
	k->st.events++;
out:
	pthread_mutex_unlock(&k->lock);
	return rc;
}

int k8s_take(struct k8s *k, struct k8s_batch *b)
{
	int n;

	pthread_mutex_lock(&k->lock);
	*b = k->out;
	k->out = (struct k8s_batch){ 0 };
	k->changes_cap = 0;
	pthread_mutex_unlock(&k->lock);
	n = b->nlist + b->nchanges;
	return n ? n : b->has_list; /* an empty list says "no pods": it counts */
}

void k8s_batch_free(struct k8s_batch *b)
{
	free(b->list);
	free(b->changes);
	*b = (struct k8s_batch){ 0 };
}

void k8s_relist(struct k8s *k)
{
	if (k)
		atomic_store(&k->relist, true);
}

void k8s_status(struct k8s *k, struct k8s_status *st)
{
	pthread_mutex_lock(&k->lock);
	*st = k->st;
	pthread_mutex_unlock(&k->lock);
}

/* ---- one request ---- */

static int buf_add(struct k8s *k, const char *p, size_t n)
{
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap : 65536;
		char *b;

		while (cap < k->len + n)
			cap *= 2;
		if (!(b = realloc(k->buf, cap)))
			return -1;
		k->buf = b;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

static void cut(struct k8s *k, enum end end, const char *fmt, ...)
{
	va_list ap;

	k->end = end;
	va_start(ap, fmt);
	vsnprintf(k->why, sizeof(k->why), fmt, ap);
	va_end(ap);
}

/* One complete watch line. false: the stream is cut (k->end says why). */
static bool watch_line(struct k8s *k)
{
	struct pod_event ev;
	char err[160];
	size_t sp = 0;


	while (sp < k->len && (k->buf[sp] == ' ' || k->buf[sp] == '\t' || k->buf[sp] == '\r'))
		sp++;
	if (sp == k->len)
		return true;
	if (pods_parse_event(k->buf, k->len, &ev, err, sizeof(err)) < 0) {
		pthread_mutex_lock(&k->lock);
		k->st.bad_events++;
		pthread_mutex_unlock(&k->lock);
		cut(k, END_RESYNC, "a watch event did not parse (%s): listing again", err);
		return false;
	}
	switch (ev.type) {
	case POD_EV_ERROR:
		if (ev.code == 410) {
			cut(k, END_GONE, "%s", ev.message);
			return false;
		}
		cut(k, END_ERROR, "the watch reported an error (code %d): %s", ev.code, ev.message);
		return false;
	case POD_EV_BOOKMARK:
		pthread_mutex_lock(&k->lock);
		k->st.events++;
		pthread_mutex_unlock(&k->lock);
		break;
	default:
		if (post_change(k, &ev) < 0) {
			cut(k, END_RESYNC, "more than %d pod events waiting for the store: listing "
					   "again", K8S_CHANGES_MAX);
			return false;
		}
	}
	k->got++;
	set_rv(k, ev.rv);
	return true;
}

/* libcurl's body callback. A list (and any error body) is collected; a
 * watch is cut into lines as it arrives. Returning less than n ends the
 * transfer, with k->end saying why. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct k8s *k = arg;
	size_t n = size * nmemb;

	if (!k->code)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &k->code);
	if (k->code != 200) { /* an error: its first 64 KiB say enough */
		if (k->len < K8S_ERROR_BODY_MAX)
			buf_add(k, ptr, n < K8S_ERROR_BODY_MAX - k->len ? n : K8S_ERROR_BODY_MAX - k->len);
		return n;
	}
	if (k->req == REQ_LIST) {
		if (k->len + n > PODS_FILE_MAX) {
			cut(k, END_ERROR, "the pod list is larger than %u bytes", PODS_FILE_MAX);
			return 0;
		}
		if (buf_add(k, ptr, n) < 0) {
			cut(k, END_ERROR, "out of memory for the pod list");
			return 0;
		}
		return n;
	}
	if (!k->got && !k->len)
		set_connected(k, true);
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(ptr + i, '\n', n - i);
		size_t take = nl ? (size_t)(nl - (ptr + i)) : n - i;

		if (k->len + take > K8S_LINE_MAX) {
			pthread_mutex_lock(&k->lock);
			k->st.lines_dropped++;
			pthread_mutex_unlock(&k->lock);
			cut(k, END_RESYNC, "a watch event longer than %u bytes was dropped: listing "
					   "again", K8S_LINE_MAX);
			return 0;
		}
		if (buf_add(k, ptr + i, take) < 0) {
			cut(k, END_RESYNC, "out of memory for a watch event: listing again");
			return 0;
		}
		i += take;
		if (nl) {
			i++;
			if (!watch_line(k))
				return 0;
			k->len = 0;
		}
	}
	return n;
}

/* Ends a transfer once a stop is asked for: a watch may be quiet for minutes. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct k8s *k = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&k->stop);
}

/* The token, re-read for every request: kubelet rotates projected tokens. */
static int read_token(struct k8s *k, char *tok, size_t size, char *err, size_t errlen)
{
	int fd = open(k->token_path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;

	if (fd < 0) {
		snprintf(err, errlen, "cannot read the service account token %s: %s", k->token_path,
			 strerror(errno));
		return -1;
	}
	while ((size_t)n < size && (r = read(fd, tok + n, size - (size_t)n)) > 0)
		n += r;
	close(fd);
	if ((size_t)n >= size) {
		snprintf(err, errlen, "the token %s is larger than %zu bytes", k->token_path, size - 1);
		return -1;
	}
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		n--;
	tok[n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)tok[i] <= ' ' || tok[i] == 0x7f) {
			snprintf(err, errlen, "the token %s holds white space or control bytes",
				 k->token_path);
			return -1;
		}
	if (n == 0) {
		snprintf(err, errlen, "the token %s is empty", k->token_path);
		return -1;
	}
	return 0;
}

/* An error reply: its Status message, with what to do about the usual ones. */
static void http_error(struct k8s *k)
{
	struct pod_event ev = { 0 };
	char err[160], msg[300] = "";

	if (k->len && pods_parse_event(k->buf, k->len, &ev, err, sizeof(err)) == 0 &&
	    ev.type == POD_EV_ERROR && ev.message[0])
		snprintf(msg, sizeof(msg), ": %s", ev.message);
	if (k->code == 401)
		cut(k, END_ERROR, "HTTP 401%s (the token in %s was refused; it is read again "
				  "before every request)", msg, k->token_path);
	else if (k->code == 403)
		cut(k, END_ERROR, "HTTP 403%s (the service account needs get, list and watch on "
				  "pods: a ClusterRole bound to it)", msg);
	else
		cut(k, END_ERROR, "HTTP %ld%s", k->code, msg);
}

static enum end request(struct k8s *k, enum req req, const char *url, long timeout_ms)
{
	char *tok = k->tok, hdr[K8S_TOKEN_MAX + 32], err[512];
	struct curl_slist *h = NULL, *h2;
	CURLcode rc;

	k->req = req;
	k->code = 0;
	k->end = END_OK;
	k->len = 0;
	k->got = 0;
	k->errbuf[0] = 0;
	if (k->tls) {
		if (read_token(k, tok, sizeof(k->tok), err, sizeof(err)) < 0) {
			cut(k, END_ERROR, "%s", err);
			return END_ERROR;
		}
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
		h = curl_slist_append(NULL, hdr);
		explicit_bzero(tok, sizeof(k->tok));
		explicit_bzero(hdr, sizeof(hdr));
	}
	if (!(h2 = curl_slist_append(h, "Accept: application/json")) || (k->tls && !h)) {
		curl_slist_free_all(h2 ? h2 : h);
		cut(k, END_ERROR, "out of memory");
		return END_ERROR;
	}
	h = h2;
	curl_easy_setopt(k->curl, CURLOPT_URL, url);
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = curl_easy_perform(k->curl);
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (atomic_load(&k->stop))
		return END_STOP;
	if (k->end != END_OK)
		return k->end;
	if (rc != CURLE_OK) {
		/* a quiet watch that reached our own time limit ended normally */
		if (req == REQ_WATCH && rc == CURLE_OPERATION_TIMEDOUT && k->code == 200)
			return END_OK;
		cut(k, END_ERROR, "%s", k->errbuf[0] ? k->errbuf : curl_easy_strerror(rc));
		return END_ERROR;
	}
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &k->code);
	if (k->code == 410) {
		cut(k, END_GONE, "HTTP 410 Gone");
		return END_GONE;
	}
	if (k->code != 200) {
		http_error(k);
		return END_ERROR;
	}
	return END_OK;
}

static enum end do_list(struct k8s *k)
{
	char url[1024], rv[PODS_FIELD_MAX], err[160];
	struct pod_meta *pods = NULL;
	enum end e;
	int n;

	snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->api,
		 k->node_esc);
	if ((e = request(k, REQ_LIST, url, K8S_LIST_TIMEOUT_MS)) != END_OK)
		return e;
	n = pods_parse_list(k->buf, k->len, &pods, rv, sizeof(rv), err, sizeof(err));
	if (k->cap > (1u << 20)) { /* a big list's buffer is not kept for the watch */
		free(k->buf);
		k->buf = NULL;
		k->cap = 0;
	}
	k->len = 0;
	if (n < 0) {
		cut(k, END_ERROR, "the pod list did not parse: %s", err);
		return END_ERROR;
	}
	if (!rv[0]) {
		free(pods);
		cut(k, END_ERROR, "the pod list has no metadata.resourceVersion to watch from");
		return END_ERROR;
	}
	if (!k->listed || k->failures)
		log_info("Kubernetes API %s: %d pod%s on node %s (resourceVersion %s); watching",
			 k->api, n, n == 1 ? "" : "s", k->node, rv);
	post_list(k, pods, n);
	set_rv(k, rv);
	working(k);
	return END_OK;
}

static enum end do_watch(struct k8s *k)
{
	char url[1400];
	char *rv = curl_easy_escape(k->curl, k->rv, 0);
	enum end e;

	if (!rv) {
		cut(k, END_ERROR, "out of memory");
		return END_ERROR;
	}
	snprintf(url, sizeof(url),
		 "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1&resourceVersion=%s"
		 "&allowWatchBookmarks=true&timeoutSeconds=%d",
		 k->api, k->node_esc, rv, K8S_WATCH_TIMEOUT_S);
	curl_free(rv);
	pthread_mutex_lock(&k->lock);
	k->st.watches++;
	pthread_mutex_unlock(&k->lock);
	e = request(k, REQ_WATCH, url, K8S_WATCH_CLIENT_TIMEOUT_MS);
	/* a last line without its newline */
	if (e == END_OK && k->len && !watch_line(k))
		e = k->end;
	k->len = 0;
	if (e == END_OK)
		working(k);
	return e;
}

/* ---- the thread ---- */

static void *run(void *arg)
{
	struct k8s *k = arg;

	while (!atomic_load(&k->stop)) {
		uint64_t t0 = mono_ns();
		bool list = atomic_exchange(&k->relist, false) || !k->rv[0];
		enum end e;

		if (list)
			k->rv[0] = 0;
		e = list ? do_list(k) : do_watch(k);
		switch (e) {
		case END_STOP:
			break;
		case END_OK:
			if (list)
				break;
			if (k->got || mono_ns() - t0 >= K8S_GOOD_WATCH_NS)
				k->backoff_ms = 0;
			else if (mono_ns() - t0 < K8S_QUICK_WATCH_NS)
				back_off(k); /* a server that ends every watch at once */
			break;
		case END_GONE:
			/* normal: the history was compacted past our resourceVersion */
			if (mono_ns() - k->gone_logged_ns >= K8S_LOG_REPEAT_NS || !k->gone_logged_ns) {
				log_info("Kubernetes API %s: resourceVersion %s is too old (%s): "
					 "listing again", k->api, k->rv, k->why);
				k->gone_logged_ns = mono_ns();
			}
			k->rv[0] = 0;
			if (!k->got && mono_ns() - t0 < K8S_QUICK_WATCH_NS)
				back_off(k); /* a server that answers every watch with 410 */
			break;
		case END_RESYNC:
			k->rv[0] = 0;
			fail(k, k->why);
			back_off(k);
			break;
		case END_ERROR:
			fail(k, k->why);
			back_off(k);
			break;
		}
	}
	return NULL;
}

static void k8s_free(struct k8s *k)
{
	if (k->curl)
		curl_easy_cleanup(k->curl);
	curl_free(k->node_esc);
	k8s_batch_free(&k->out);
	free(k->buf);
	free(k);
}

static int setup_curl(struct k8s *k)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(k->curl = curl_easy_init()) ||
	    !(k->node_esc = curl_easy_escape(k->curl, k->node, 0)))
		return -1;
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(k->curl, CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
	curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT_MS, K8S_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(k->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(k->curl, CURLOPT_ACCEPT_ENCODING, ""); /* lists compress well */
	curl_easy_setopt(k->curl, CURLOPT_ERRORBUFFER, k->errbuf);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(k->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(k->curl, CURLOPT_XFERINFODATA, k);
	/* verification stays on: the service account's CA, else the system's */
	curl_easy_setopt(k->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (k->have_ca)
		curl_easy_setopt(k->curl, CURLOPT_CAINFO, k->ca_path);
	return 0;
}

struct k8s *k8s_start(const struct k8s_opts *o, char *err, size_t errlen)
{
	struct k8s *k = calloc(1, sizeof(*k));
	const char *sa = o->sa_dir ? o->sa_dir : K8S_SA_DIR_DEFAULT;
	pthread_condattr_t ca;

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (api_url(k, o->api, err, errlen) < 0 || node_name(k, o->node, err, errlen) < 0) {
		free(k);
		return NULL;
	}
	if (strlen(sa) > sizeof(k->token_path) - 16) {
		snprintf(err, errlen, "--k8s-sa-dir: longer than %zu bytes", sizeof(k->token_path) - 16);
		free(k);
		return NULL;
	}
	snprintf(k->token_path, sizeof(k->token_path), "%s/token", sa);
	snprintf(k->ca_path, sizeof(k->ca_path), "%s/ca.crt", sa);
	k->have_ca = access(k->ca_path, R_OK) == 0;
	if (setup_curl(k) < 0) {
		snprintf(err, errlen, "cannot set up libcurl for the Kubernetes API");
		k8s_free(k);
		return NULL;
	}
	if (getrandom(&k->rng, sizeof(k->rng), 0) != sizeof(k->rng))
		k->rng = mono_ns() ^ (uint64_t)getpid();
	k->rng |= 1;
	snprintf(k->st.api, sizeof(k->st.api), "%s", k->api);
	snprintf(k->st.node, sizeof(k->st.node), "%s", k->node);
	if (!k->tls)
		log_warn("--k8s-api %s is plain http: no token is sent (meant for `kubectl proxy` "
			 "on this host)", k->api);
	else if (!k->have_ca)
		log_warn("Kubernetes API: no CA at %s: the server is verified against the system's "
			 "CAs", k->ca_path);
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&k->thread, NULL, run, k)) != 0) {
		snprintf(err, errlen, "cannot start the Kubernetes API thread: %s", strerror(errno));
		pthread_cond_destroy(&k->wake);
		pthread_mutex_destroy(&k->lock);
		k8s_free(k);
		return NULL;
	}
	log_info("pod metadata from the Kubernetes API %s, pods of node %s (token and CA from %s)",
		 k->api, k->node, sa);
	return k;
}

void k8s_stop(struct k8s *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	atomic_store(&k->stop, true);
	pthread_cond_broadcast(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	k8s_free(k);
}
