/* The route heuristic (processor/route.h). sluice sees paths, not the
 * routes a server framework matched, so it guesses: a segment that looks
 * like data rather than like a name becomes {id}. Each rule is cheap and
 * errs towards keeping words, since a word turned into {id} merges routes
 * users want apart, while an id left alone is caught by the series cap. */
#include "processor/route.h"

#include <string.h>

#define ROUTE_ID "{id}"
#define ROUTE_LONG_SEGMENT 48 /* longer segments are data, whatever they hold */
#define ROUTE_TOKEN_MIN 16    /* shortest base64-ish token */
#define ROUTE_HEX_MIN 8       /* shortest hex id that also holds a digit */
#define ROUTE_EXT_MAX 5       /* ".jpeg": longest extension kept */

/* What a segment is made of. */
struct seg_shape {
	size_t digits, upper, lower, hexalpha; /* hexalpha: a-f, A-F */
	size_t other;     /* bytes outside [A-Za-z0-9] */
	size_t b64other;  /* of those, the ones base64/base64url/JWT tokens use */
	size_t run, max_run; /* consecutive digits */
	bool at, dot_after_at;
};

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_upper(char ch) { return ch >= 'A' && ch <= 'Z'; }
static bool is_lower(char ch) { return ch >= 'a' && ch <= 'z'; }
static bool is_alpha(char ch) { return is_upper(ch) || is_lower(ch); }

static bool is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static void shape_byte(struct seg_shape *sh, char ch)
{
	if (is_digit(ch)) {
		sh->digits++;
		if (++sh->run > sh->max_run)
			sh->max_run = sh->run;
		return;
	}
	sh->run = 0;
	if (is_hex(ch))
		sh->hexalpha++;
	if (is_upper(ch)) {
		sh->upper++;
	} else if (is_lower(ch)) {
		sh->lower++;
	} else {
		sh->other++;
		if (strchr("-_+/=.~", ch))
			sh->b64other++;
		if (ch == '@')
			sh->at = true;
		else if (ch == '.' && sh->at)
			sh->dot_after_at = true;
	}
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

/* "%40" is how an '@' arrives in a path when the client encoded it. */
static bool has_encoded_at(const char *s, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++)
		if (s[i] == '%' && s[i + 1] == '4' && s[i + 2] == '0')
			return true;
	return false;
}

bool route_segment_is_id(const char *s, size_t n)
{
	struct seg_shape sh = { 0 };
	size_t alpha;

	if (n == 0)
		return false;
	if (n >= ROUTE_LONG_SEGMENT || is_uuid(s, n))
		return true;
	for (size_t i = 0; i < n; i++)
		shape_byte(&sh, s[i]);
	alpha = sh.upper + sh.lower;
	if (sh.digits == n || sh.max_run >= 3)
		return true; /* numbers, dates, "order-12345" ... but not "v1", "x86_64" */
	if ((sh.at && sh.dot_after_at) || has_encoded_at(s, n))
		return true; /* e-mail address */
	if (sh.other == 0 && sh.hexalpha == alpha) {
		/* hex: "deadbeef" may be a word, "9f1c2b3a" is not */
		if ((n >= ROUTE_HEX_MIN && sh.digits > 0) || n >= 2 * ROUTE_HEX_MIN)
			return true;
	}
	if (n >= ROUTE_TOKEN_MIN && sh.other == sh.b64other) {
		/* base64-ish: digits among letters, or both cases in bulk (a
		 * camelCase word has a few capitals, random base64 has many) */
		if (sh.digits > 0 && alpha > 0)
			return true;
		if (sh.upper * 4 >= n && sh.lower * 4 >= n)
			return true;
	}
	return false;
}

/* Length of a trailing ".ext" worth keeping (".png"), 0 when none. */
static size_t ext_len(const char *s, size_t n)
{
	for (size_t i = n; i-- > 1;) {
		if (s[i] == '.') {
			size_t e = n - i - 1;

			return e >= 1 && e <= ROUTE_EXT_MAX ? e + 1 : 0;
		}
		if (!is_alpha(s[i]))
			return 0;
	}
	return 0;
}

/* Appends m bytes to out if they fit (keeping room for the NUL). */
static bool put(char *out, size_t n, size_t *len, const char *s, size_t m)
{
	if (*len + m >= n)
		return false;
	memcpy(out + *len, s, m);
	*len += m;
	return true;
}

/* Appends one segment, templated. */
static bool put_segment(char *out, size_t n, size_t *len, const char *s, size_t m)
{
	size_t e = ext_len(s, m);

	/* "bob@example.com" is an address, not a file named "bob@example" */
	if (e && !memchr(s, '@', m) && !has_encoded_at(s, m) && route_segment_is_id(s, m - e))
		return put(out, n, len, ROUTE_ID, strlen(ROUTE_ID)) &&
		       put(out, n, len, s + m - e, e);
	if (route_segment_is_id(s, m))
		return put(out, n, len, ROUTE_ID, strlen(ROUTE_ID));
	return put(out, n, len, s, m);
}

/* "http://host:port/p?q" -> "/p": proxies receive absolute-form targets. */
static const char *origin_form(const char *path)
{
	const char *p = NULL;

	if (strncmp(path, "http://", 7) == 0)
		p = path + 7;
	else if (strncmp(path, "https://", 8) == 0)
		p = path + 8;
	if (!p)
		return path;
	p = strchr(p, '/');
	return p ? p : "/";
}

const char *route_template(const char *path, char *out, size_t n)
{
	const char *p = origin_form(path);
	size_t len = 0;

	out[0] = 0;
	if (p[0] != '/') {
		if (strcmp(p, "*") == 0 && n > 1)
			memcpy(out, "*", 2);
		return out;
	}
	while (*p == '/') {
		size_t seg = strcspn(p + 1, "/"), keep = strcspn(p + 1, ";/"), at = len;

		if (!put(out, n, &len, "/", 1) || !put_segment(out, n, &len, p + 1, keep)) {
			len = at; /* out of room: end at the last whole segment */
			break;
		}
		p += 1 + seg;
	}
	out[len] = 0;
	return out;
}

const char *route_method(const char *method)
{
	static const char *const known[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
		"PATCH", "QUERY",
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "_OTHER";
}
