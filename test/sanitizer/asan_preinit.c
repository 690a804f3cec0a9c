/*
 * asan_preinit.c — preloaded after libasan into the test server (make test-asan,
 * test/run.sh): starts AddressSanitizer before glibc's gettext lock is held.
 *
 * Debian's postgres links libgpg-error (through libsystemd and libgcrypt), whose
 * constructor calls bindtextdomain() before libasan's own constructor has run.
 * bindtextdomain takes glibc's _nl_state_lock for writing and calls malloc; that
 * first malloc starts ASan, whose start-up calls dlerror(), which calls gettext,
 * which takes the same lock for reading (EDEADLK, ignored) and then unlocks it:
 * the writer's lock is released twice, the lock's reader count underflows, and
 * postgres hangs in its own bindtextdomain() in main().  This bindtextdomain()
 * comes first in the symbol search order, so it calls malloc once with no lock
 * held (ASan starts there, cleanly) and then passes the call on to glibc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char *bindtextdomain(const char *domainname, const char *dirname);

char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*real_bindtextdomain)(const char *, const char *);

	if (real_bindtextdomain == NULL)
	{
		/* volatile: the compiler must not drop the malloc/free pair */
		void *volatile p = malloc(1);

		free(p);
		real_bindtextdomain = (char *(*) (const char *, const char *) ) dlsym(RTLD_NEXT, "bindtextdomain");
		if (real_bindtextdomain == NULL)
			abort();
	}
	return real_bindtextdomain(domainname, dirname);
}
