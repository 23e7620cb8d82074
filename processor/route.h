/* Cardinality helpers for HTTP attributes: the route heuristic that turns a
 * request path into a low-cardinality template (/users/1234 -> /users/{id})
 * and the semconv normalisation of request methods. Pure functions. */
#ifndef SLUICE_ROUTE_H
#define SLUICE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/* Room for any template of a path up to HTTP1_TARGET_MAX bytes: "{id}"
 * may be longer than the segment it replaces ("/1/2" -> "/{id}/{id}"). */
#define ROUTE_MAX 1024

/* Writes the template of `path` to out (n bytes, n > 0) and returns out.
 * Each segment that looks like an identifier becomes "{id}": numbers, UUIDs,
 * hex strings, base64-ish tokens, e-mail addresses, dates, and segments
 * holding a run of 3+ digits; a file extension is kept ("/img/{id}.png").
 * Matrix parameters (";jsessionid=...") are dropped. An absolute-form
 * target ("http://host/p") is reduced to its path. Anything that is not an
 * origin-form path ("", "host:443" of CONNECT) gives "", meaning no route;
 * "*" (OPTIONS *) stays "*". */
const char *route_template(const char *path, char *out, size_t n);

/* True when one path segment (n bytes, no '/') looks like an identifier. */
bool route_segment_is_id(const char *s, size_t n);

/* http.request.method as semconv wants it: the known methods unchanged,
 * anything else "_OTHER" (spans then carry http.request.method_original). */
const char *route_method(const char *method);

#endif
