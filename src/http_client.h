/*
 * http_client.h — GET over libcurl for the price sources: allowed hosts only,
 * http/https only, timeouts, a response-size cap, gzip, retries with backoff,
 * several transfers at once, and prompt reaction to query cancel.
 */
#ifndef STOCKML_HTTP_CLIENT_H
#define STOCKML_HTTP_CLIENT_H

#include "postgres.h"

#include "utils/guc.h"

typedef struct HttpTransfer HttpTransfer; /* private to http_client.c */

typedef enum HttpFailure
{
	HTTP_FAILURE_NONE,		/* a response came (any status) */
	HTTP_FAILURE_REFUSED,	/* redirect off stockml.allowed_hosts, too many */
	HTTP_FAILURE_TOO_LARGE, /* body over stockml.max_response_bytes */
	HTTP_FAILURE_TIMEOUT,	/* stockml.http_timeout_ms passed */
	HTTP_FAILURE_NETWORK	/* connection refused, dropped, truncated, ... */
} HttpFailure;

typedef struct HttpRequest
{
	/* set by the caller */
	char *url;
	void *arg; /* the caller's, passed back untouched */

	/* set when the request is finished */
	long		status; /* HTTP status of the last response, 0 if none */
	char	   *body;	/* that response's body, NUL-terminated, or NULL */
	size_t		body_len;
	char	   *error; /* why there is no usable response, or NULL */
	HttpFailure failure;
	int			attempts; /* requests sent, retries included */

	HttpTransfer *transfer;
} HttpRequest;

/* Called once per request as it finishes, outside any libcurl callback */
typedef void (*HttpDoneCallback)(HttpRequest *request, void *arg);

extern int stockml_http_concurrency;

extern void	 HttpCheckUrl(const char *url);
extern bool	 HttpCheckHeaderSetting(char **newval, void **extra, GucSource source);
extern char *HttpEscape(const char *s);
extern void	 HttpFetchAll(HttpRequest **requests, int nrequests, int concurrency,
						  HttpDoneCallback done, void *arg);
extern void	 HttpGet(HttpRequest *request);

#endif /* STOCKML_HTTP_CLIENT_H */
