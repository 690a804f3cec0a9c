/*
 * fuzz.h — what the libFuzzer targets of test/fuzz/ share with pg_stubs.c:
 * running one step of a stockml parser as the server would (an ERROR is a
 * clean rejection), freeing everything it allocated, and building inputs the
 * server would have built (jsonb from JSON text).
 *
 * A finding is reported by abort() (libFuzzer then saves the input): a crash,
 * a sanitizer report, an ERROR without an SQLSTATE of its own (elog's "cannot
 * happen", XX000), a message or a stored text that is not valid UTF-8, or a
 * broken invariant a target checks (FuzzFail).
 */
#ifndef STOCKML_FUZZ_H
#define STOCKML_FUZZ_H

#include "postgres.h"

#include "utils/jsonb.h"

/* the server's encoding, for the targets: UTF8 */
#define FUZZ_DATABASE_ENCODING PG_UTF8

/*
 * Run fn(arg) as one SQL call would: false when it raised an ERROR (the
 * server would roll back), true when it returned.
 */
extern bool FuzzCall(void (*fn) (void *arg), void *arg);

/* Free every palloc'd chunk (the server resets its memory contexts) */
extern void FuzzReset(void);

/* A broken invariant: print why and abort() */
extern void FuzzFail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* Whether JSON text nests arrays and objects deeper than max_depth */
extern bool FuzzJsonTooDeep(const char *json, size_t len, int max_depth);

/*
 * The jsonb jsonb_in() would make of text, or NULL where jsonb_in() would
 * raise an ERROR (not JSON, \u0000, too deep, a number numeric_in refuses)
 */
extern Jsonb *FuzzJsonbFromText(const char *text, size_t len);

/* a NUL-terminated copy of the input, in palloc'd memory */
extern char *FuzzCString(const uint8 *data, size_t size);

#endif							/* STOCKML_FUZZ_H */
