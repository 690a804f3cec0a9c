/*
 * http_client.c — GET requests on libcurl's multi interface, one or many at
 * a time, for the price sources (ingest_yahoo, ingest_stooq, refresh).
 *
 * Safety first: a URL must be http or https and name a host listed in
 * stockml.allowed_hosts; redirects are followed by hand (at most
 * HTTP_MAX_REDIRECTS), each target checked against the same list.  Every
 * attempt has a total timeout (stockml.http_timeout_ms), every body a size cap
 * (stockml.max_response_bytes, counted after gzip decoding).  429, 5xx,
 * timeouts and dropped connections are retried (stockml.http_retries) after
 * an exponential backoff with jitter, or after the server's Retry-After.
 *
 * Interrupts: libcurl callbacks never raise.  The progress callback makes
 * libcurl abort the transfer when a query cancel or termination is pending,
 * and the transfer loop, which never blocks for more than HTTP_POLL_MS,
 * calls CHECK_FOR_INTERRUPTS() between polls.  Any ERROR (interrupts, a
 * caller's callback) passes through PG_FINALLY, which frees every curl
 * handle; bodies live in a memory context that goes with the caller's.
 */
#include "postgres.h"

#include <math.h>
#include <curl/curl.h>

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "http_client.h"
#include "stockml.h"

#define HTTP_MAX_REDIRECTS 5
#define HTTP_POLL_MS 100
#define HTTP_MAX_RETRY_AFTER_S 60

typedef enum TransferState
{
	TRANSFER_PENDING, /* not started, or waiting for a retry */
	TRANSFER_ACTIVE,  /* in the multi handle */
	TRANSFER_DONE
} TransferState;

struct HttpTransfer
{
	TransferState state;
	CURL		 *easy;
	char		 *url; /* current URL (after redirects) */
	int			  redirects;
	TimestampTz	  retry_at;
	/* the body being received, grown by WriteBody in http_cxt */
	char  *buf;
	size_t len;
	size_t cap;
	bool   too_large;
	bool   out_of_memory;
	char   errbuf[CURL_ERROR_SIZE];
};

typedef enum TransferVerdict
{
	VERDICT_DONE,
	VERDICT_RETRY,
	VERDICT_REDIRECT
} TransferVerdict;

static int	 http_timeout_ms = 30000;
static int	 http_retries = 3;
static int	 http_retry_delay_ms = 500;
static int	 max_response_bytes = 50 * 1024 * 1024;
static char *http_user_agent = NULL;
static char *allowed_hosts = NULL;
int			 stockml_http_concurrency = 8;

static MemoryContext http_cxt = NULL; /* of the HttpFetchAll running now */
static bool			 curl_ready = false;

static bool			   UrlProblem(const char *url, char **problem);
static size_t		   WriteBody(char *data, size_t size, size_t nmemb, void *userdata);
static int			   AbortOnInterrupt(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
										curl_off_t ultotal, curl_off_t ulnow);
static void			   StartTransfer(CURLM *multi, HttpRequest *request);
static TransferVerdict JudgeTransfer(HttpRequest *request, CURLcode code);
static void			   FinishTransfer(HttpRequest *request, MemoryContext result_cxt);
static double		   BackoffMs(int attempt);
static void			   RunTransfers(CURLM *multi, HttpRequest **requests, int nrequests, int concurrency,
									HttpDoneCallback done, void *arg, MemoryContext result_cxt);


/*
 * GUC check hook of every string setting that reaches a request line or a
 * header: a CR or LF would end the header and start one of the caller's
 * choosing, so no control character is accepted.
 */
bool
HttpCheckHeaderSetting(char **newval, void **extra, GucSource source)
{
	for (const unsigned char *p = (const unsigned char *) *newval; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f)
		{
			GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
			GUC_check_errmsg("setting contains control character 0x%02x at byte %d",
							 *p, (int) (p - (const unsigned char *) *newval) + 1);
			GUC_check_errdetail("Settings that reach an HTTP request may not contain CR, LF or other control characters.");
			GUC_check_errhint("Remove the control characters from the value.");
			return false;
		}
	return true;
}

void
StockmlHttpInit(void)
{
	DefineCustomIntVariable("stockml.http_timeout_ms",
							"Longest an HTTP request may take, connection included, per attempt.",
							NULL,
							&http_timeout_ms, 30000, 100, 3600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.http_retries",
							"Retries of an HTTP request after a 429, a 5xx, a timeout or a dropped connection.",
							NULL,
							&http_retries, 3, 0, 10,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.http_retry_delay",
							"Wait before the first HTTP retry; doubles at each retry, with jitter.",
							"A server's Retry-After, when longer, is honoured instead.",
							&http_retry_delay_ms, 500, 0, 60000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("stockml.max_response_bytes",
							"Largest HTTP response body accepted, after decompression.",
							NULL,
							&max_response_bytes, 50 * 1024 * 1024, 1024, MaxAllocSize - 1,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomStringVariable("stockml.user_agent",
							   "User-Agent header of stockml's HTTP requests.",
							   "Yahoo refuses requests without a browser-like User-Agent.",
							   &http_user_agent,
							   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
							   "Chrome/124.0 Safari/537.36",
							   PGC_USERSET, 0, HttpCheckHeaderSetting, NULL, NULL);
	DefineCustomStringVariable("stockml.allowed_hosts",
							   "Hosts stockml may fetch from (comma-separated host names).",
							   "Redirects to other hosts are refused too.",
							   &allowed_hosts,
							   "query1.finance.yahoo.com,query2.finance.yahoo.com,stooq.com,stooq.pl",
							   PGC_SUSET, GUC_LIST_INPUT, HttpCheckHeaderSetting, NULL, NULL);
	DefineCustomIntVariable("stockml.http_concurrency",
							"HTTP requests refresh() keeps in flight at once.",
							NULL,
							&stockml_http_concurrency, 8, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Why a URL may not be fetched (*problem, palloc'd), or false when it may:
 * a scheme other than http/https, or a host not in stockml.allowed_hosts.
 */
static bool
UrlProblem(const char *url, char **problem)
{
	CURLU *parsed = curl_url();
	char  *scheme = NULL;
	char  *host = NULL;
	bool   bad = true;

	size_t scheme_len = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	if (parsed == NULL)
		elog(ERROR, "out of memory in curl_url");
	/* the scheme first, so that no parser's leniency lets file: or gopher: through */
	if (scheme_len == 0 || url[scheme_len] != ':' ||
		!((scheme_len == 4 && pg_strncasecmp(url, "http", 4) == 0) ||
		  (scheme_len == 5 && pg_strncasecmp(url, "https", 5) == 0)))
		*problem = scheme_len > 0 && url[scheme_len] == ':' ?
					   psprintf("scheme \"%.*s\" is not allowed (only http and https are)", (int) Min(scheme_len, 20), url) :
					   psprintf("\"%.40s\" does not start with http:// or https://", url);
	else if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
			 curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		*problem = psprintf("\"%s\" is not a valid URL", url);
	else if (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0)
		*problem = psprintf("scheme \"%s\" is not allowed (only http and https are)", scheme);
	else
	{
		char *list = pstrdup(allowed_hosts ? allowed_hosts : "");
		char *save = NULL;

		for (char *h = strtok_r(list, ", \t", &save); h && bad; h = strtok_r(NULL, ", \t", &save))
			bad = pg_strcasecmp(h, host) != 0;
		pfree(list);
		if (bad)
			*problem = psprintf("host \"%s\" is not in stockml.allowed_hosts", host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(parsed);
	return bad;
}

/* ERROR unless stockml may fetch this URL */
void
HttpCheckUrl(const char *url)
{
	char *problem;

	if (UrlProblem(url, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("stockml may not fetch this URL: %s", problem),
				 errdetail("stockml.allowed_hosts is \"%s\".", allowed_hosts ? allowed_hosts : ""),
				 errhint("A superuser can allow a host: ALTER SYSTEM SET stockml.allowed_hosts = "
						 "'<current list>,<host>'; SELECT pg_reload_conf();")));
}

/* Percent-encode everything but RFC 3986's unreserved characters */
char *
HttpEscape(const char *s)
{
	StringInfoData out;

	initStringInfo(&out);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || strchr("-._~", *p))
			appendStringInfoChar(&out, *p);
		else
			appendStringInfo(&out, "%%%02X", *p);
	}
	return out.data;
}

/* libcurl write callback: append to the body, or stop at the cap (never raises) */
static size_t
WriteBody(char *data, size_t size, size_t nmemb, void *userdata)
{
	HttpTransfer *t = (HttpTransfer *) userdata;
	size_t		  n = size * nmemb;

	if (t->len + n > (size_t) max_response_bytes)
	{
		t->too_large = true;
		return 0;
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t cap = Max(Max(t->cap * 2, t->len + n + 1), 16384);
		char  *grown;

		cap = Min(cap, (size_t) max_response_bytes + 1);
		grown = MemoryContextAllocExtended(http_cxt, cap, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (grown == NULL)
		{
			t->out_of_memory = true;
			return 0;
		}
		if (t->buf)
		{
			memcpy(grown, t->buf, t->len);
			pfree(t->buf);
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	return n;
}

/* libcurl progress callback: non-zero aborts the transfer (never raises) */
static int
AbortOnInterrupt(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				 curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

static double
BackoffMs(int attempt)
{
	double delay = http_retry_delay_ms * pow(2.0, Max(attempt - 1, 0));

	return Min(delay, 60000.0) * (0.5 + pg_prng_double(&pg_global_prng_state));
}

static void
StartTransfer(CURLM *multi, HttpRequest *request)
{
	HttpTransfer *t = request->transfer;
	CURL		 *easy;

	if (t->easy)
		curl_easy_cleanup(t->easy);
	t->easy = easy = curl_easy_init();
	if (easy == NULL)
		elog(ERROR, "curl_easy_init failed");
	t->len = 0;
	t->too_large = false;
	t->out_of_memory = false;
	t->errbuf[0] = '\0';

	curl_easy_setopt(easy, CURLOPT_URL, t->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); /* by hand, checked */
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) http_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) Min(http_timeout_ms, 10000));
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl decodes */
	curl_easy_setopt(easy, CURLOPT_USERAGENT, http_user_agent);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) max_response_bytes);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteBody);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, AbortOnInterrupt);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, request);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		elog(ERROR, "curl_multi_add_handle failed");
	t->state = TRANSFER_ACTIVE;
	request->attempts++;
}

/* What to do with a finished attempt; sets request->status and ->error */
static TransferVerdict
JudgeTransfer(HttpRequest *request, CURLcode code)
{
	HttpTransfer *t = request->transfer;
	bool		  retryable = false;
	double		  delay_ms;

	request->error = NULL;
	request->failure = HTTP_FAILURE_NONE;
	request->status = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &request->status);
	if (code == CURLE_OK)
	{
		curl_off_t retry_after = 0;

		if (request->status >= 300 && request->status < 400 && request->status != 304)
		{
			char *location = NULL;
			char *problem;

			curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &location);
			if (location == NULL)
				return VERDICT_DONE;
			if (t->redirects >= HTTP_MAX_REDIRECTS)
			{
				request->error = psprintf("more than %d redirects", HTTP_MAX_REDIRECTS);
				request->failure = HTTP_FAILURE_REFUSED;
				return VERDICT_DONE;
			}
			if (UrlProblem(location, &problem))
			{
				request->error = psprintf("redirect refused: %s", problem);
				request->failure = HTTP_FAILURE_REFUSED;
				return VERDICT_DONE;
			}
			t->url = MemoryContextStrdup(http_cxt, location);
			t->redirects++;
			return VERDICT_REDIRECT;
		}
		if (request->status != 429 && request->status < 500)
			return VERDICT_DONE;
		curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
		if (request->attempts > http_retries)
			return VERDICT_DONE;
		if (retry_after > HTTP_MAX_RETRY_AFTER_S)
		{
			request->error = psprintf("the server asks to retry after %lld s, more than stockml waits",
									  (long long) retry_after);
			request->failure = HTTP_FAILURE_NETWORK;
			return VERDICT_DONE;
		}
		delay_ms = Max(BackoffMs(request->attempts), retry_after * 1000.0);
	}
	else
	{
		request->failure = HTTP_FAILURE_NETWORK;
		if (t->too_large || code == CURLE_FILESIZE_EXCEEDED)
		{
			request->error = psprintf("response larger than stockml.max_response_bytes (%d bytes)",
									  max_response_bytes);
			request->failure = HTTP_FAILURE_TOO_LARGE;
		}
		else if (t->out_of_memory)
			request->error = pstrdup("out of memory receiving the response");
		else if (code == CURLE_ABORTED_BY_CALLBACK)
		{
			CHECK_FOR_INTERRUPTS();
			request->error = pstrdup("transfer interrupted");
		}
		else if (code == CURLE_OPERATION_TIMEDOUT)
		{
			request->error = psprintf("no complete response within stockml.http_timeout_ms (%d ms)",
									  http_timeout_ms);
			request->failure = HTTP_FAILURE_TIMEOUT;
			retryable = true;
		}
		else
		{
			request->error = psprintf("%s%s%s", curl_easy_strerror(code),
									  t->errbuf[0] ? ": " : "", t->errbuf);
			retryable = (code == CURLE_COULDNT_CONNECT || code == CURLE_PARTIAL_FILE ||
						 code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
						 code == CURLE_GOT_NOTHING || code == CURLE_HTTP2 ||
						 code == CURLE_HTTP2_STREAM);
		}
		if (!retryable || request->attempts > http_retries)
			return VERDICT_DONE;
		delay_ms = BackoffMs(request->attempts);
	}
	t->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int) delay_ms);
	return VERDICT_RETRY;
}

/* Hand the body to the caller's memory context and release the curl handle */
static void
FinishTransfer(HttpRequest *request, MemoryContext result_cxt)
{
	HttpTransfer *t = request->transfer;

	t->state = TRANSFER_DONE;
	if (request->error == NULL && request->status > 0)
	{
		request->body = MemoryContextAllocHuge(result_cxt, t->len + 1);
		if (t->len > 0)
			memcpy(request->body, t->buf, t->len);
		request->body[t->len] = '\0';
		request->body_len = t->len;
	}
	if (t->buf)
		pfree(t->buf);
	t->buf = NULL;
	t->cap = t->len = 0;
	curl_easy_cleanup(t->easy);
	t->easy = NULL;
}

/* The transfer loop of HttpFetchAll, until every request is finished */
static void
RunTransfers(CURLM *multi, HttpRequest **requests, int nrequests, int concurrency,
			 HttpDoneCallback done, void *arg, MemoryContext result_cxt)
{
	int started = 0;
	int finished = 0;
	int active = 0;

	while (finished < nrequests)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz next_retry = 0;
		CURLMsg	   *msg;
		int			left;
		int			running;
		long		wait_ms = HTTP_POLL_MS;

		/* retries that are due first, then requests not yet started */
		for (int i = 0; i < started && active < concurrency; i++)
		{
			HttpTransfer *t = requests[i]->transfer;

			if (t->state != TRANSFER_PENDING)
				continue;
			if (t->retry_at <= now)
			{
				StartTransfer(multi, requests[i]);
				active++;
			}
			else if (next_retry == 0 || t->retry_at < next_retry)
				next_retry = t->retry_at;
		}
		while (started < nrequests && active < concurrency)
		{
			StartTransfer(multi, requests[started++]);
			active++;
		}

		if (curl_multi_perform(multi, &running) != CURLM_OK)
			elog(ERROR, "curl_multi_perform failed");
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			HttpRequest *r;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
			curl_multi_remove_handle(multi, msg->easy_handle);
			active--;
			switch (JudgeTransfer(r, msg->data.result))
			{
				case VERDICT_REDIRECT:
					r->attempts--; /* a redirect hop is not another attempt */
					StartTransfer(multi, r);
					active++;
					break;
				case VERDICT_RETRY:
					r->transfer->state = TRANSFER_PENDING;
					if (next_retry == 0 || r->transfer->retry_at < next_retry)
						next_retry = r->transfer->retry_at;
					break;
				case VERDICT_DONE:
					FinishTransfer(r, result_cxt);
					finished++;
					if (done)
						done(r, arg);
					break;
			}
		}
		if (finished == nrequests)
			break;
		CHECK_FOR_INTERRUPTS();
		/* a slot came free and a request waits for one: start it now */
		if (started < nrequests && active < concurrency)
			continue;

		if (next_retry != 0)
			wait_ms = Min(wait_ms, Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																	   next_retry),
									   0));
		if (active > 0)
			curl_multi_poll(multi, NULL, 0, (int) wait_ms, NULL);
		else if (wait_ms > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Fetch every request, at most `concurrency` at a time, calling done (if
 * not NULL) as each finishes.  Results (status, body, error) are left in
 * the requests, bodies allocated in the caller's memory context.  Raises
 * only for a URL stockml may not fetch, an interrupt, or what done raises.
 */
void
HttpFetchAll(HttpRequest **requests, int nrequests, int concurrency,
			 HttpDoneCallback done, void *arg)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	CURLM *volatile multi = NULL;

	for (int i = 0; i < nrequests; i++)
		HttpCheckUrl(requests[i]->url);
	if (nrequests == 0)
		return;
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			elog(ERROR, "curl_global_init failed");
		curl_ready = true;
	}

	for (int i = 0; i < nrequests; i++)
		requests[i]->transfer = NULL;
	Assert(http_cxt == NULL);
	http_cxt = AllocSetContextCreate(CurrentMemoryContext, "stockml http",
									 ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		for (int i = 0; i < nrequests; i++)
		{
			HttpRequest *r = requests[i];

			r->transfer = MemoryContextAllocZero(http_cxt, sizeof(HttpTransfer));
			r->transfer->url = MemoryContextStrdup(http_cxt, r->url);
			r->status = 0;
			r->body = r->error = NULL;
			r->failure = HTTP_FAILURE_NONE;
			r->body_len = 0;
			r->attempts = 0;
		}
		multi = curl_multi_init();
		if (multi == NULL)
			elog(ERROR, "curl_multi_init failed");
		RunTransfers(multi, requests, nrequests, concurrency, done, arg, result_cxt);
	}
	PG_FINALLY();
	{
		for (int i = 0; i < nrequests; i++)
		{
			HttpTransfer *t = requests[i]->transfer;

			if (t && t->easy)
			{
				if (multi)
					curl_multi_remove_handle(multi, t->easy);
				curl_easy_cleanup(t->easy);
			}
			requests[i]->transfer = NULL;
		}
		if (multi)
			curl_multi_cleanup(multi);
		MemoryContextDelete(http_cxt);
		http_cxt = NULL;
	}
	PG_END_TRY();
}

/* One request, no callback */
void
HttpGet(HttpRequest *request)
{
	HttpFetchAll(&request, 1, 1, NULL, NULL);
}
