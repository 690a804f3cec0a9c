/*
 * pg_stubs.c — the PostgreSQL server calls that stockml's parsers make, for
 * the standalone libFuzzer binaries of test/fuzz/ (no server, no catalog).
 *
 * The parsers are compiled from src/ unchanged, against the server headers;
 * what they call comes from three places:
 *   - PostgreSQL's own code where it ships as a library: JSON lexing and
 *     parsing (common/jsonapi.c), StringInfo, psprintf and the encoding
 *     tables (libpgcommon), snprintf, strcasecmp, qsort and CRC-32C
 *     (libpgport).  These are the frontend builds; where they differ from the
 *     server (jsonapi.c has no check_stack_depth() there) the targets refuse
 *     what the server would refuse (FuzzJsonTooDeep).
 *   - the small stand-ins below, behaving as the server does for a UTF8
 *     database: palloc and friends (every chunk is freed by FuzzReset, as a
 *     memory context reset would; GetMemoryChunkContext works), ereport/elog
 *     (an ERROR longjmps back to FuzzCall: a clean rejection), date2j/j2date,
 *     time zones through the C library's tzdata, text and arrays, jsonb built
 *     from JSON text (keys sorted and de-duplicated as jsonb does) and read
 *     through the iterator API, numeric to float8, and an SPI that accepts
 *     every statement (the parsers' results are stored through it).
 *   - stubs of what no target reaches (HTTP, GUCs, LAPACK, aggregates, the
 *     catalog): they
 *     abort(), so reaching one is a finding too.
 *
 * Findings abort() with a message: an ERROR without its own SQLSTATE (elog's
 * "cannot happen"), a message or a text handed to SPI or to an array that is
 * not valid UTF-8, pfree(NULL), SPI used outside SPI_connect().
 */
#include "postgres.h"

#include <setjmp.h>
#include <sys/stat.h>
#include <time.h>

#include <lapacke.h>

#include "access/xact.h"
#include "distributed.h"
#include "utils/snapmgr.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/acl.h"
#include "executor/tuptable.h"
#include "catalog/pg_class.h"
#include "access/tableam.h"
#include "access/table.h"
#include "access/relscan.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/memnodes.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http_client.h"
#include "roles.h"

#include "fuzz.h"

/* ---------------------------------------------------------------- findings */

void
FuzzFail(const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "\n*** stockml fuzz finding: ");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\n");
	abort();
}

static void Unreachable(const char *what) pg_attribute_noreturn();

static void
Unreachable(const char *what)
{
	FuzzFail("%s() reached: no fuzz target should get there", what);
}

static void
CheckUtf8(const char *what, const char *s, int len)
{
	if (pg_encoding_verifymbstr(PG_UTF8, s, len) != len)
		FuzzFail("%s is not valid UTF-8: \"%.*s\"", what, len, s);
}

/* ------------------------------------------------------------------ memory */

/*
 * Every chunk is a malloc'd block (so AddressSanitizer sees each one) on one
 * list; the word before the user's pointer is its context, as in aset.c.
 */
typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	Size		  size;
	MemoryContext context;
} Chunk;

#define FUZZ_MEMORY_LIMIT ((Size) 512 * 1024 * 1024)

static Chunk			 chunks = {&chunks, &chunks, 0, NULL};
static Size				 allocated = 0;
static MemoryContextData fuzz_context = {.type = T_AllocSetContext, .name = "fuzz"};
MemoryContext			 CurrentMemoryContext = &fuzz_context;

static void *
ChunkAlloc(MemoryContext context, Size size, int flags)
{
	Chunk *c;

	if (!((flags & MCXT_ALLOC_HUGE) ? AllocHugeSizeIsValid(size) : AllocSizeIsValid(size)))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	if (size > FUZZ_MEMORY_LIMIT - allocated || (c = malloc(sizeof(Chunk) + size)) == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", size)));
	}
	c->size = size;
	c->context = context ? context : &fuzz_context;
	c->next = chunks.next;
	c->prev = &chunks;
	chunks.next->prev = c;
	chunks.next = c;
	allocated += size;
	if (flags & MCXT_ALLOC_ZERO)
		memset(c + 1, 0, size);
	return c + 1;
}

static Chunk *
ChunkOf(void *pointer)
{
	if (pointer == NULL)
		FuzzFail("pfree or repalloc of NULL");
	return (Chunk *) pointer - 1;
}

static void
ChunkFree(Chunk *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	allocated -= c->size;
	free(c);
}

void
FuzzReset(void)
{
	while (chunks.next != &chunks)
		ChunkFree(chunks.next);
	CurrentMemoryContext = &fuzz_context;
}

void *
palloc(Size size)
{
	return ChunkAlloc(CurrentMemoryContext, size, 0);
}

void *
palloc0(Size size)
{
	return ChunkAlloc(CurrentMemoryContext, size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return ChunkAlloc(CurrentMemoryContext, size, flags);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return ChunkAlloc(context, size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return ChunkAlloc(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return ChunkAlloc(context, size, flags);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return ChunkAlloc(context, size, MCXT_ALLOC_HUGE);
}

/* a child context is the one context: FuzzReset frees everything */
MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name, Size minContextSize,
							  Size initBlockSize, Size maxBlockSize)
{
	return &fuzz_context;
}

void
MemoryContextDelete(MemoryContext context)
{
}

static void *
ChunkRealloc(void *pointer, Size size, int flags)
{
	Chunk *old = ChunkOf(pointer);
	void  *p = ChunkAlloc(old->context, size, flags);

	memcpy(p, pointer, Min(size, old->size));
	ChunkFree(old);
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	return ChunkRealloc(pointer, size, 0);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return ChunkRealloc(pointer, size, MCXT_ALLOC_HUGE);
}

void
pfree(void *pointer)
{
	ChunkFree(ChunkOf(pointer));
}

char *
pstrdup(const char *in)
{
	return pnstrdup(in, strlen(in));
}

char *
pnstrdup(const char *in, Size len)
{
	char *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

char *
FuzzCString(const uint8 *data, size_t size)
{
	char *s = palloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* shmem.c's overflow-checked sizes */
Size
add_size(Size s1, Size s2)
{
	Size result = s1 + s2;

	if (result < s1 || result < s2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("requested shared memory size overflows size_t")));
	return result;
}

Size
mul_size(Size s1, Size s2)
{
	Size result;

	if (s1 == 0 || s2 == 0)
		return 0;
	result = s1 * s2;
	if (result / s2 != s1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("requested shared memory size overflows size_t")));
	return result;
}

/* ------------------------------------------------------------------ errors */

ErrorContextCallback *error_context_stack = NULL;
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
}

typedef struct FuzzError
{
	int			   elevel;
	int			   sqlstate;
	StringInfoData text; /* message, detail, hint and context lines */
} FuzzError;

#define ERROR_DEPTH 5
static FuzzError   errors[ERROR_DEPTH];
static int		   error_depth = -1;
static sigjmp_buf *error_jump = NULL;

static bool
StartError(int elevel)
{
	FuzzError *e;

	if (++error_depth >= ERROR_DEPTH)
		FuzzFail("ereport nested more than %d deep", ERROR_DEPTH);
	e = &errors[error_depth];
	e->elevel = elevel;
	e->sqlstate = elevel >= ERROR	? ERRCODE_INTERNAL_ERROR :
				  elevel == WARNING ? ERRCODE_WARNING :
									  ERRCODE_SUCCESSFUL_COMPLETION;
	/* malloc'd, not palloc'd: it outlives FuzzReset */
	if (e->text.data == NULL)
	{
		e->text.data = malloc(1024);
		e->text.maxlen = 1024;
	}
	e->text.len = 0;
	e->text.data[0] = '\0';
	return true;
}

bool
errstart(int elevel, const char *domain)
{
	return StartError(elevel);
}

bool
errstart_cold(int elevel, const char *domain)
{
	return StartError(elevel);
}

int
errcode(int sqlerrcode)
{
	errors[error_depth].sqlstate = sqlerrcode;
	return 0;
}

/* Format one part of the report and check it is valid in the database encoding */
static void
AddPart(const char *part, const char *fmt, va_list args)
{
	StringInfoData buf;
	FuzzError	  *e = &errors[error_depth];
	size_t		   n;

	initStringInfo(&buf);
	for (;;)
	{
		va_list copy;
		int		needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	CheckUtf8(part, buf.data, buf.len);
	n = strlen(part) + 2 + buf.len + 1;
	if (e->text.len + n + 1 > (size_t) e->text.maxlen)
	{
		e->text.maxlen = e->text.len + n + 1024;
		e->text.data = realloc(e->text.data, e->text.maxlen);
	}
	e->text.len += sprintf(e->text.data + e->text.len, "%s: %s\n", part, buf.data);
	pfree(buf.data);
}

#define ERROR_PART(name, part)    \
	int                           \
	name(const char *fmt, ...)    \
	{                             \
		va_list args;             \
                                  \
		va_start(args, fmt);      \
		AddPart(part, fmt, args); \
		va_end(args);             \
		return 0;                 \
	}

ERROR_PART(errmsg, "message")
ERROR_PART(errmsg_internal, "message")
ERROR_PART(errdetail, "detail")
ERROR_PART(errhint, "hint")
ERROR_PART(errcontext_msg, "context")

int
set_errcontext_domain(const char *domain)
{
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	FuzzError *e = &errors[error_depth];

	/* the server calls the context callbacks here, to add their lines */
	for (ErrorContextCallback *c = error_context_stack; c; c = c->previous)
		c->callback(c->arg);
	if (e->elevel < ERROR)
	{
		error_depth--;
		return;
	}
	if (e->sqlstate == ERRCODE_INTERNAL_ERROR)
		FuzzFail("an internal ERROR (XX000) at %s:%d in %s():\n%s", filename, lineno, funcname,
				 e->text.data);
	if (getenv("STOCKML_FUZZ_VERBOSE"))
		fprintf(stderr, "ERROR %s at %s:%d\n%s", unpack_sql_state(e->sqlstate), filename, lineno,
				e->text.data);
	if (error_jump == NULL)
		FuzzFail("an ERROR outside FuzzCall:\n%s", e->text.data);
	siglongjmp(*error_jump, 1);
}

/* utils/error/elog.c's, for the verbose output above */
char *
unpack_sql_state(int sql_state)
{
	static char buf[12];

	for (int i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sql_state);
		sql_state >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

bool
FuzzCall(void (*fn)(void *arg), void *arg)
{
	sigjmp_buf	jump;
	sigjmp_buf *outer = error_jump;

	if (sigsetjmp(jump, 0) != 0)
	{
		/* as AbortTransaction: the error is over, the stack of contexts too */
		error_jump = outer;
		error_depth = -1;
		error_context_stack = NULL;
		CurrentMemoryContext = &fuzz_context;
		return false;
	}
	error_jump = &jump;
	fn(arg);
	error_jump = outer;
	if (error_depth != -1)
		FuzzFail("an ereport below ERROR was left open");
	return true;
}

/* --------------------------------------------------------------- encoding */

int
GetDatabaseEncoding(void)
{
	return FUZZ_DATABASE_ENCODING;
}

const char *
GetDatabaseEncodingName(void)
{
	return "UTF8";
}

/* ingest_yahoo.c converts Yahoo's text only when the database is not UTF8: never here */
Oid
FindDefaultConversionProc(int32 for_encoding, int32 to_encoding)
{
	FuzzFail("FindDefaultConversionProc called in a UTF8 database");
	return InvalidOid;
}

int
pg_do_encoding_conversion_buf(Oid proc, int src_encoding, int dest_encoding, unsigned char *src, int srclen,
							  unsigned char *dest, int destlen, bool noError)
{
	FuzzFail("pg_do_encoding_conversion_buf called in a UTF8 database");
	return 0;
}

int
pg_database_encoding_max_length(void)
{
	return pg_encoding_max_length(FUZZ_DATABASE_ENCODING);
}

int
pg_mblen(const char *mbstr)
{
	return pg_encoding_mblen(FUZZ_DATABASE_ENCODING, mbstr);
}

/* mbutils.c's pg_encoding_mbcliplen() for the database encoding */
int
pg_mbcliplen(const char *mbstr, int len, int limit)
{
	int clen = 0;

	while (len > 0 && *mbstr)
	{
		int l = pg_mblen(mbstr);

		if (clen + l > limit)
			break;
		clen += l;
		if (clen == limit)
			break;
		len -= l;
		mbstr += l;
	}
	return clen;
}

bool
pg_verifymbstr(const char *mbstr, int len, bool noError)
{
	int ok = pg_encoding_verifymbstr(FUZZ_DATABASE_ENCODING, mbstr, len);

	if (ok == len)
		return true;
	if (noError)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("invalid byte sequence for encoding \"UTF8\"")));
	return false;
}

/* ------------------------------------------------------- dates and zones */

const int day_tab[2][13] = {
	{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0},
	{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0}};

/* datetime.c's Julian day arithmetic */
int
date2j(int y, int m, int d)
{
	int julian;
	int century;

	if (m > 2)
	{
		m += 1;
		y += 4800;
	}
	else
	{
		m += 13;
		y += 4799;
	}
	century = y / 100;
	julian = y * 365 - 32167;
	julian += y / 4 - century + century / 4;
	julian += 7834 * m / 256 + d;
	return julian;
}

void
j2date(int jd, int *year, int *month, int *day)
{
	unsigned int julian;
	unsigned int quad;
	unsigned int extra;
	int			 y;

	julian = jd;
	julian += 32044;
	quad = julian / 146097;
	extra = (julian - quad * 146097) * 4 + 3;
	julian += 60 + quad * 3 + extra / 146097;
	quad = julian / 1461;
	julian -= quad * 1461;
	y = julian * 4 / 1461;
	julian = ((y != 0) ? ((julian + 305) % 365) : ((julian + 306) % 366)) + 123;
	y += quad * 4;
	*year = y - 4800;
	quad = julian * 2141 / 65536;
	*day = julian - 7834 * quad / 256;
	*month = (quad + 10) % MONTHS_PER_YEAR + 1;
}

int
j2day(int date)
{
	date += 1;
	date %= 7;
	if (date < 0)
		date += 7;
	return date;
}

/* a zone is a name the C library finds in its tzdata */
struct pg_tz
{
	char name[TZ_STRLEN_MAX + 1];
};

#define MAX_ZONES 64
static pg_tz		zones[MAX_ZONES];
static int			nzones = 0;
static const pg_tz *zone_set = NULL; /* the zone TZ holds */

pg_tz *
pg_tzset(const char *name)
{
	char		path[MAXPGPATH];
	struct stat st;

	if (strlen(name) > TZ_STRLEN_MAX || strstr(name, "..") || name[0] == '/')
		return NULL;
	for (int i = 0; i < nzones; i++)
		if (strcmp(zones[i].name, name) == 0)
			return &zones[i];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || nzones == MAX_ZONES)
		return NULL;
	strlcpy(zones[nzones].name, name, sizeof(zones[nzones].name));
	return &zones[nzones++];
}

static struct pg_tm *
ToPgTm(const struct tm *tm)
{
	static struct pg_tm result;

	result.tm_sec = tm->tm_sec;
	result.tm_min = tm->tm_min;
	result.tm_hour = tm->tm_hour;
	result.tm_mday = tm->tm_mday;
	result.tm_mon = tm->tm_mon;
	result.tm_year = tm->tm_year;
	result.tm_wday = tm->tm_wday;
	result.tm_yday = tm->tm_yday;
	result.tm_isdst = tm->tm_isdst;
	result.tm_gmtoff = tm->tm_gmtoff;
	result.tm_zone = tm->tm_zone;
	return &result;
}

struct pg_tm *
pg_localtime(const pg_time_t *timep, const pg_tz *tz)
{
	time_t	  t = (time_t) *timep;
	struct tm tm;

	if (zone_set != tz)
	{
		setenv("TZ", tz->name, 1);
		tzset();
		zone_set = tz;
	}
	return localtime_r(&t, &tm) ? ToPgTm(&tm) : NULL;
}

struct pg_tm *
pg_gmtime(const pg_time_t *timep)
{
	time_t	  t = (time_t) *timep;
	struct tm tm;

	return gmtime_r(&t, &tm) ? ToPgTm(&tm) : NULL;
}

/* --------------------------------------------------------- text, arrays */

text *
cstring_to_text(const char *s)
{
	size_t len = strlen(s);
	text  *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

char *
text_to_cstring(const text *t)
{
	return pnstrdup(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	return datum;
}

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	return datum;
}

/* A text the server would store: valid in the database encoding */
static void
CheckText(const char *what, Datum d)
{
	text *t = (text *) DatumGetPointer(d);

	CheckUtf8(what, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* Reads every element (AddressSanitizer checks them); the array is opaque */
ArrayType *
construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs,
				   Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	int			  n = ndims > 0 ? ArrayGetNItems(ndims, dims) : 0;
	ArrayType	 *a = palloc0(sizeof(ArrayType));
	volatile char sink = 0;

	for (int i = 0; i < n; i++)
	{
		if (nulls && nulls[i])
			continue;
		if (elmtype == TEXTOID)
			CheckText("an array element", elems[i]);
		else if (!elmbyval)
			for (int b = 0; b < (elmlen > 0 ? elmlen : (int) VARSIZE_ANY(DatumGetPointer(elems[i]))); b++)
				sink ^= ((const char *) DatumGetPointer(elems[i]))[b];
	}
	(void) sink;
	SET_VARSIZE(a, sizeof(ArrayType));
	a->ndim = ndims;
	a->elemtype = elmtype;
	return a;
}

ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	int dims[1] = {nelems};
	int lbs[1] = {1};

	return construct_md_array(elems, NULL, 1, dims, lbs, elmtype, elmlen, elmbyval, elmalign);
}

int
ArrayGetNItems(int ndim, const int *dims)
{
	int64 n = 1;

	for (int i = 0; i < ndim; i++)
	{
		if (dims[i] < 0)
			FuzzFail("negative array dimension %d", dims[i]);
		n *= dims[i];
		if (n > (int64) MaxArraySize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("array size exceeds the maximum allowed (%d)", (int) MaxArraySize)));
	}
	return (int) n;
}

/* ------------------------------------------------------------------- SPI */

/* every statement succeeds; a SELECT returns one row of zeros */
/* read committed, as a session starts (price_store.c reads it) */
int XactIsoLevel = XACT_READ_COMMITTED;

uint64				 SPI_processed = 0;
SPITupleTable		*SPI_tuptable = NULL;
int					 SPI_result = 0;
static int			 spi_depth = 0;
static HeapTupleData spi_row;
static HeapTuple	 spi_rows[1] = {&spi_row};
static SPITupleTable spi_table = {.vals = spi_rows};

int
SPI_connect(void)
{
	spi_depth++;
	return SPI_OK_CONNECT;
}

int
SPI_finish(void)
{
	if (spi_depth == 0)
		FuzzFail("SPI_finish without SPI_connect");
	spi_depth--;
	return SPI_OK_FINISH;
}

int
SPI_execute_with_args(const char *src, int nargs, Oid *argtypes, Datum *Values,
					  const char *Nulls, bool read_only, long tcount)
{
	if (spi_depth == 0)
		FuzzFail("SPI_execute_with_args without SPI_connect: %s", src);
	for (int i = 0; i < nargs; i++)
		if (argtypes[i] == TEXTOID && !(Nulls && Nulls[i] == 'n'))
			CheckText("a text parameter of a query", Values[i]);
	SPI_processed = 0;
	SPI_tuptable = NULL;
	while (*src == ' ')
		src++;
	if (strncmp(src, "WITH", 4) == 0 || strncmp(src, "SELECT", 6) == 0)
	{
		SPI_processed = 1;
		SPI_tuptable = &spi_table;
		return SPI_OK_SELECT;
	}
	if (strncmp(src, "INSERT", 6) == 0)
		return SPI_OK_INSERT;
	if (strncmp(src, "UPDATE", 6) == 0)
		return SPI_OK_UPDATE;
	FuzzFail("a statement the fake SPI does not know: %s", src);
}

Datum
SPI_getbinval(HeapTuple tuple, TupleDesc tupdesc, int fnumber, bool *isnull)
{
	*isnull = false;
	return Int64GetDatum(0);
}

const char *
SPI_result_code_string(int code)
{
	return "(fake SPI)";
}

Datum
SPI_datumTransfer(Datum value, bool typByVal, int typLen)
{
	Unreachable(__func__);
}

/*
 * SymbolCalendar's reads of stockml.symbols (calendar.c): a target never gets
 * there (get_relname_relid finds no stockml.symbols, so no calendar is read)
 */
AclResult
pg_class_aclcheck(Oid table_oid, Oid roleid, AclMode mode)
{
	Unreachable(__func__);
}

Oid
GetUserId(void)
{
	Unreachable(__func__);
}

int
check_enable_rls(Oid relid, Oid checkAsUser, bool noError)
{
	Unreachable(__func__);
}

bool
RelationIsCitusTable(Oid relid)
{
	Unreachable(__func__);
}

bool
ActiveSnapshotSet(void)
{
	Unreachable(__func__);
}

Snapshot
GetActiveSnapshot(void)
{
	Unreachable(__func__);
}

Oid
get_atttype(Oid relid, AttrNumber attnum)
{
	Unreachable(__func__);
}

Relation
table_open(Oid relationId, LOCKMODE lockmode)
{
	Unreachable(__func__);
}

void
table_close(Relation relation, LOCKMODE lockmode)
{
	Unreachable(__func__);
}

Oid
RelationGetPrimaryKeyIndex(Relation relation)
{
	Unreachable(__func__);
}

Relation
index_open(Oid relationId, LOCKMODE lockmode)
{
	Unreachable(__func__);
}

void
index_close(Relation relation, LOCKMODE lockmode)
{
	Unreachable(__func__);
}

void
ScanKeyEntryInitialize(ScanKey entry, int flags, AttrNumber attributeNumber, StrategyNumber strategy, Oid subtype,
					   Oid collation, RegProcedure procedure, Datum argument)
{
	Unreachable(__func__);
}

IndexScanDesc
index_beginscan(Relation heapRelation, Relation indexRelation, Snapshot snapshot, int nkeys, int norderbys)
{
	Unreachable(__func__);
}

void
index_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	Unreachable(__func__);
}

void
index_endscan(IndexScanDesc scan)
{
	Unreachable(__func__);
}

bool
index_getnext_slot(IndexScanDesc scan, ScanDirection direction, TupleTableSlot *slot)
{
	Unreachable(__func__);
}

TupleTableSlot *
table_slot_create(Relation rel, List **reglist)
{
	Unreachable(__func__);
}

void
slot_getsomeattrs_int(TupleTableSlot *slot, int attnum)
{
	Unreachable(__func__);
}

void
ExecDropSingleTupleTableSlot(TupleTableSlot *slot)
{
	Unreachable(__func__);
}

SPIPlanPtr
SPI_prepare(const char *src, int nargs, Oid *argtypes)
{
	Unreachable(__func__);
}

int
SPI_keepplan(SPIPlanPtr plan)
{
	Unreachable(__func__);
}

int
SPI_execute_plan(SPIPlanPtr plan, Datum *Values, const char *Nulls, bool read_only, long tcount)
{
	Unreachable(__func__);
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	Unreachable(__func__);
}

/* InsertIngestLog's row as a composite (price_store.c): no target stores an ingest_log row */
Oid
SPI_gettypeid(TupleDesc tupdesc, int fnumber)
{
	Unreachable(__func__);
}

TupleDesc
RelationNameGetTupleDesc(const char *relname)
{
	Unreachable(__func__);
}

TupleDesc
BlessTupleDesc(TupleDesc tupdesc)
{
	Unreachable(__func__);
}

HeapTuple
heap_form_tuple(TupleDesc tupleDescriptor, Datum *values, bool *isnull)
{
	Unreachable(__func__);
}

Datum
HeapTupleHeaderGetDatum(HeapTupleHeader tuple)
{
	Unreachable(__func__);
}

Datum
datumCopy(Datum value, bool typByVal, int typLen)
{
	Unreachable(__func__);
}

/* ---------------------------------------------------- JSON, jsonb, numeric */

/* json_errdetail() is server-only in PostgreSQL 15: its messages, as there */
static char *
ExtractToken(JsonLexContext *lex)
{
	return pnstrdup(lex->token_start, lex->token_terminator - lex->token_start);
}

char *
json_errdetail(JsonParseErrorType error, JsonLexContext *lex)
{
	switch (error)
	{
		case JSON_SUCCESS:
			break;
		case JSON_ESCAPING_INVALID:
			return psprintf("Escape sequence \"\\%s\" is invalid.", ExtractToken(lex));
		case JSON_ESCAPING_REQUIRED:
			return psprintf("Character with value 0x%02x must be escaped.",
							(unsigned char) *(lex->token_terminator));
		case JSON_EXPECTED_END:
			return psprintf("Expected end of input, but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_ARRAY_FIRST:
			return psprintf("Expected array element or \"]\", but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_ARRAY_NEXT:
			return psprintf("Expected \",\" or \"]\", but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_COLON:
			return psprintf("Expected \":\", but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_JSON:
			return psprintf("Expected JSON value, but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_MORE:
			return "The input string ended unexpectedly.";
		case JSON_EXPECTED_OBJECT_FIRST:
			return psprintf("Expected string or \"}\", but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_OBJECT_NEXT:
			return psprintf("Expected \",\" or \"}\", but found \"%s\".", ExtractToken(lex));
		case JSON_EXPECTED_STRING:
			return psprintf("Expected string, but found \"%s\".", ExtractToken(lex));
		case JSON_INVALID_TOKEN:
			return psprintf("Token \"%s\" is invalid.", ExtractToken(lex));
		case JSON_UNICODE_CODE_POINT_ZERO:
			return "\\u0000 cannot be converted to text.";
		case JSON_UNICODE_ESCAPE_FORMAT:
			return "\"\\u\" must be followed by four hexadecimal digits.";
		case JSON_UNICODE_HIGH_ESCAPE:
			return "Unicode escape values cannot be used for code point values above 007F when the encoding is not UTF8.";
		case JSON_UNICODE_HIGH_SURROGATE:
			return "Unicode high surrogate must not follow a high surrogate.";
		case JSON_UNICODE_LOW_SURROGATE:
			return "Unicode low surrogate must follow a high surrogate.";
	}
	elog(ERROR, "unexpected json parse error type: %d", (int) error);
	return NULL;
}

bool
FuzzJsonTooDeep(const char *json, size_t len, int max_depth)
{
	int	 depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char c = json[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if ((c == '[' || c == '{') && ++depth > max_depth)
			return true;
		else if (c == ']' || c == '}')
			depth--;
	}
	return false;
}

/*
 * jsonb, as a tree behind the container headers the jsonb.h macros read
 * (JB_ROOT_IS_OBJECT, JsonContainerSize, ...): a container is its header
 * word followed by the address of its node.
 */
typedef struct FakeNode
{
	enum jbvType	  type; /* jbvNull .. jbvBool, jbvArray, jbvObject */
	char			 *str;	/* jbvString: len bytes, no terminator */
	int				  len;
	bool			  boolean;
	double			 *number; /* jbvNumeric: what numeric_float8 gives */
	int				  n;	  /* containers */
	int				  cap;
	struct FakeNode **values;
	struct FakeNode **keys; /* objects: jbvString nodes */
	char			 *pending_key;
	JsonbContainer	 *container;
} FakeNode;

#define FAKE_MAX_DEPTH 1000

typedef struct FakeBuilder
{
	FakeNode *stack[FAKE_MAX_DEPTH + 1];
	int		  depth;
	FakeNode *root;
	bool	  refused; /* what numeric_in would refuse */
} FakeBuilder;

static FakeNode *
NodeOf(const JsonbContainer *c)
{
	FakeNode *n;

	memcpy(&n, (const char *) c + sizeof(uint32), sizeof(n));
	return n;
}

static uint32
HeaderOf(FakeNode *n)
{
	if (n->type == jbvObject)
		return JB_FOBJECT | n->n;
	return JB_FARRAY | n->n;
}

static JsonbContainer *
ContainerOf(FakeNode *n)
{
	if (n->container == NULL)
	{
		char  *c = palloc(sizeof(uint32) + sizeof(n));
		uint32 header = HeaderOf(n);

		memcpy(c, &header, sizeof(header));
		memcpy(c + sizeof(uint32), &n, sizeof(n));
		n->container = (JsonbContainer *) c;
	}
	return n->container;
}

static FakeNode *
NewNode(enum jbvType type)
{
	FakeNode *n = palloc0(sizeof(FakeNode));

	n->type = type;
	return n;
}

static FakeNode *
StringNode(const char *s)
{
	FakeNode *n = NewNode(jbvString);

	n->len = strlen(s);
	n->str = palloc(Max(n->len, 1));
	memcpy(n->str, s, n->len);
	return n;
}

static void
AddMember(FakeNode *parent, FakeNode *key, FakeNode *value)
{
	if (parent->n == parent->cap)
	{
		parent->cap = Max(8, parent->cap * 2);
		parent->values = parent->values ? repalloc(parent->values, sizeof(FakeNode *) * parent->cap) :
										  palloc(sizeof(FakeNode *) * parent->cap);
		parent->keys = parent->keys ? repalloc(parent->keys, sizeof(FakeNode *) * parent->cap) :
									  palloc(sizeof(FakeNode *) * parent->cap);
	}
	parent->keys[parent->n] = key;
	parent->values[parent->n++] = value;
}

static void
Attach(FakeBuilder *b, FakeNode *value)
{
	FakeNode *parent;

	if (b->depth == 0)
	{
		b->root = value;
		return;
	}
	parent = b->stack[b->depth - 1];
	AddMember(parent, parent->type == jbvObject ? StringNode(parent->pending_key) : NULL, value);
}

static int
KeyCompare(const FakeNode *a, const FakeNode *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->str, b->str, a->len);
}

/* jsonb's object order: keys by length then bytes, the last of equal keys kept */
static void
FinishObject(FakeNode *o)
{
	int n = 0;

	for (int i = 0; i < o->n; i++)
	{
		int j;
		int pos;

		for (j = 0; j < n; j++)
			if (KeyCompare(o->keys[j], o->keys[i]) == 0)
				break;
		if (j < n)
		{
			o->values[j] = o->values[i];
			continue;
		}
		for (pos = n; pos > 0 && KeyCompare(o->keys[pos - 1], o->keys[i]) > 0; pos--)
			;
		{
			FakeNode *k = o->keys[i];
			FakeNode *v = o->values[i];

			memmove(&o->keys[pos + 1], &o->keys[pos], sizeof(FakeNode *) * (n - pos));
			memmove(&o->values[pos + 1], &o->values[pos], sizeof(FakeNode *) * (n - pos));
			o->keys[pos] = k;
			o->values[pos] = v;
		}
		n++;
	}
	o->n = n;
}

static void
FakeStart(FakeBuilder *b, enum jbvType type)
{
	FakeNode *n = NewNode(type);

	if (b->refused)
		return;
	Attach(b, n);
	if (b->depth >= FAKE_MAX_DEPTH)
		b->refused = true;
	else
		b->stack[b->depth++] = n;
}

static void
FakeObjectStart(void *state)
{
	FakeStart(state, jbvObject);
}

static void
FakeArrayStart(void *state)
{
	FakeStart(state, jbvArray);
}

static void
FakeEnd(void *state)
{
	FakeBuilder *b = state;

	if (b->refused)
		return;
	b->depth--;
	if (b->stack[b->depth]->type == jbvObject)
		FinishObject(b->stack[b->depth]);
}

static void
FakeField(void *state, char *fname, bool isnull)
{
	FakeBuilder *b = state;

	if (!b->refused)
		b->stack[b->depth - 1]->pending_key = fname;
}

/* numeric_in's limit on the exponent, then numeric_float8_no_overflow's value */
static void
FakeScalar(void *state, char *token, JsonTokenType tokentype)
{
	FakeBuilder *b = state;
	FakeNode	*n;

	if (b->refused)
		return;
	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			n = StringNode(token);
			break;
		case JSON_TOKEN_NUMBER:
		{
			const char *e = strpbrk(token, "eE");

			if (e && labs(strtol(e + 1, NULL, 10)) > 1000)
				b->refused = true;
			n = NewNode(jbvNumeric);
			n->number = palloc(sizeof(double));
			*n->number = strtod(token, NULL);
			if (*n->number == 0)
				*n->number = 0; /* numeric has no -0 */
		}
		break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			n = NewNode(jbvBool);
			n->boolean = tokentype == JSON_TOKEN_TRUE;
			break;
		default:
			n = NewNode(jbvNull);
			break;
	}
	Attach(b, n);
}

Jsonb *
FuzzJsonbFromText(const char *text, size_t len)
{
	FakeBuilder	   *b;
	JsonSemAction	sem;
	JsonLexContext *lex;
	FakeNode	   *root;
	Jsonb		   *jb;
	uint32			header;

	if (pg_encoding_verifymbstr(FUZZ_DATABASE_ENCODING, text, len) != (int) len ||
		strlen(text) != len || FuzzJsonTooDeep(text, len, FAKE_MAX_DEPTH))
		return NULL;
	b = palloc0(sizeof(FakeBuilder));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = b;
	sem.object_start = FakeObjectStart;
	sem.object_end = FakeEnd;
	sem.array_start = FakeArrayStart;
	sem.array_end = FakeEnd;
	sem.object_field_start = FakeField;
	sem.scalar = FakeScalar;
	lex = makeJsonLexContextCstringLen((char *) text, (int) len, FUZZ_DATABASE_ENCODING, true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || b->refused || b->root == NULL)
		return NULL;

	root = b->root;
	if (root->type != jbvObject && root->type != jbvArray)
	{
		/* a raw scalar is a one-element array flagged scalar */
		FakeNode *wrap = NewNode(jbvArray);

		AddMember(wrap, NULL, root);
		root = wrap;
		header = JB_FARRAY | JB_FSCALAR | 1;
	}
	else
		header = HeaderOf(root);
	jb = palloc0(VARHDRSZ + sizeof(uint32) + sizeof(root));
	SET_VARSIZE(jb, VARHDRSZ + sizeof(uint32) + sizeof(root));
	memcpy((char *) jb + VARHDRSZ, &header, sizeof(header));
	memcpy((char *) jb + VARHDRSZ + sizeof(uint32), &root, sizeof(root));
	return jb;
}

static void
SetValue(JsonbValue *v, FakeNode *n)
{
	memset(v, 0, sizeof(*v));
	v->type = n->type;
	switch (n->type)
	{
		case jbvString:
			v->val.string.val = n->str;
			v->val.string.len = n->len;
			break;
		case jbvNumeric:
			v->val.numeric = (Numeric) n->number;
			break;
		case jbvBool:
			v->val.boolean = n->boolean;
			break;
		case jbvArray:
		case jbvObject:
			v->type = jbvBinary;
			v->val.binary.data = ContainerOf(n);
			v->val.binary.len = 0;
			break;
		default:
			break;
	}
}

typedef struct FakeIterator
{
	FakeNode *node;
	bool	  scalar;
	int		  state; /* 0 begin, 1 members, 2 end */
	int		  i;
	bool	  value_next;
} FakeIterator;

JsonbIterator *
JsonbIteratorInit(JsonbContainer *container)
{
	FakeIterator *it = palloc0(sizeof(FakeIterator));

	it->node = NodeOf(container);
	it->scalar = (container->header & JB_FSCALAR) != 0;
	return (JsonbIterator *) it;
}

JsonbIteratorToken
JsonbIteratorNext(JsonbIterator **itp, JsonbValue *val, bool skipNested)
{
	FakeIterator *it = (FakeIterator *) *itp;
	FakeNode	 *n;
	bool		  object;

	if (it == NULL)
		return WJB_DONE;
	if (!skipNested)
		Unreachable("JsonbIteratorNext(skipNested = false)");
	n = it->node;
	object = n->type == jbvObject;
	if (it->state == 0)
	{
		it->state = 1;
		memset(val, 0, sizeof(*val));
		if (object)
		{
			val->type = jbvObject;
			val->val.object.nPairs = n->n;
			return WJB_BEGIN_OBJECT;
		}
		val->type = jbvArray;
		val->val.array.nElems = n->n;
		val->val.array.rawScalar = it->scalar;
		return WJB_BEGIN_ARRAY;
	}
	if (it->state == 1 && it->i < n->n)
	{
		if (object && !it->value_next)
		{
			it->value_next = true;
			SetValue(val, n->keys[it->i]);
			return WJB_KEY;
		}
		it->value_next = false;
		SetValue(val, n->values[it->i++]);
		return object ? WJB_VALUE : WJB_ELEM;
	}
	pfree(it);
	*itp = NULL;
	return object ? WJB_END_OBJECT : WJB_END_ARRAY;
}

JsonbValue *
getKeyJsonValueFromContainer(JsonbContainer *container, const char *keyVal, int keyLen,
							 JsonbValue *res)
{
	FakeNode *n;

	if (!(container->header & JB_FOBJECT))
		return NULL;
	n = NodeOf(container);
	for (int i = 0; i < n->n; i++)
		if (n->keys[i]->len == keyLen && memcmp(n->keys[i]->str, keyVal, keyLen) == 0)
		{
			if (res == NULL)
				res = palloc(sizeof(JsonbValue));
			SetValue(res, n->values[i]);
			return res;
		}
	return NULL;
}

JsonbValue *
getIthJsonbValueFromContainer(JsonbContainer *container, uint32 i)
{
	FakeNode   *n;
	JsonbValue *res;

	if (!(container->header & JB_FARRAY))
		return NULL;
	n = NodeOf(container);
	if (i >= (uint32) n->n)
		return NULL;
	res = palloc(sizeof(JsonbValue));
	SetValue(res, n->values[i]);
	return res;
}

Datum
numeric_float8_no_overflow(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(*(double *) PG_GETARG_POINTER(0));
}

Datum
numeric_float8(PG_FUNCTION_ARGS)
{
	double v = *(double *) PG_GETARG_POINTER(0);

	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	PG_RETURN_FLOAT8(v);
}

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	result = (*func)(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

char *
float8out_internal(double num)
{
	return psprintf("%.17g", num);
}

/* ------------------------------------------- what no target should reach */

char *
SPI_getvalue(HeapTuple tuple, TupleDesc tupdesc, int fnumber)
{
	Unreachable(__func__);
}

void
deconstruct_array(ArrayType *array, Oid elmtype, int elmlen, bool elmbyval, char elmalign,
				  Datum **elemsp, bool **nullsp, int *nelemsp)
{
	Unreachable(__func__);
}

AttrNumber
get_attnum(Oid relid, const char *attname)
{
	Unreachable(__func__);
}

Oid
get_namespace_oid(const char *nspname, bool missing_ok)
{
	Unreachable(__func__);
}

Oid
get_relname_relid(const char *relname, Oid relnamespace)
{
	Unreachable(__func__);
}

int
AggCheckCallContext(FunctionCallInfo fcinfo, MemoryContext *aggcontext)
{
	Unreachable(__func__);
}

TimestampTz
GetCurrentTimestamp(void)
{
	Unreachable(__func__);
}

/* now() of the statements that store: any fixed time will do */
TimestampTz
GetCurrentTransactionStartTimestamp(void)
{
	return (TimestampTz) 0;
}

DateADT
GetSQLCurrentDate(void)
{
	Unreachable(__func__);
}

void
DefineCustomStringVariable(const char *name, const char *short_desc, const char *long_desc,
						   char **valueAddr, const char *bootValue, GucContext context,
						   int flags, GucStringCheckHook check_hook,
						   GucStringAssignHook assign_hook, GucShowHook show_hook)
{
	Unreachable(__func__);
}

bool
HttpCheckHeaderSetting(char **newval, void **extra, GucSource source)
{
	Unreachable(__func__);
}

char *
HttpEscape(const char *s)
{
	Unreachable(__func__);
}

void
HttpGet(HttpRequest *request)
{
	Unreachable(__func__);
}

void
StockmlRequireAdmin(const char *what)
{
	Unreachable(__func__);
}

lapack_int
LAPACKE_dgeqrf_work(int matrix_layout, lapack_int m, lapack_int n, double *a, lapack_int lda,
					double *tau, double *work, lapack_int lwork)
{
	Unreachable(__func__);
}

lapack_int
LAPACKE_dposv_work(int matrix_layout, char uplo, lapack_int n, lapack_int nrhs, double *a,
				   lapack_int lda, double *b, lapack_int ldb)
{
	Unreachable(__func__);
}

lapack_int
LAPACKE_dgesvd_work(int matrix_layout, char jobu, char jobvt, lapack_int m, lapack_int n,
					double *a, lapack_int lda, double *s, double *u, lapack_int ldu,
					double *vt, lapack_int ldvt, double *superb, lapack_int lwork)
{
	Unreachable(__func__);
}
