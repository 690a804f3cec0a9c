# stockml — plain PGXS build.
#
#   make            build stockml.so and the extension script
#   make install    install into the PostgreSQL found by $(PG_CONFIG)
#   make demo       set up everything and run the demo   (scripts/demo.sh)
#   make test       set up everything and run every test (test/run.sh)
#   make test-ubsan pg_regress and pgTAP against a UBSan build (test/run.sh)
#   make test-valgrind pg_regress and pgTAP with the server under valgrind (test/run.sh)
#   make test-asan  pg_regress and pgTAP against an ASan+UBSan build, libasan preloaded
#   make bench      every benchmark, each on its own throwaway cluster, one table of
#                   ratios in bench/RESULTS.md (bench/run.sh; BENCH_QUICK=1 for a smaller run)
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS (600) each, with coverage (test/fuzz/)
#   make lint       flake8, shellcheck, cppcheck, clang-tidy, gcc -fanalyzer (scripts/lint.sh)
#   make format     clang-format the C sources; make check-format fails on unformatted C

EXTENSION    = stockml
EXTVERSION   = 0.2.0
MODULE_big   = stockml
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script of the current version is assembled from one file per concept
# (sql/install/NN_*.sql), in file-name order, so each concept keeps its SQL next to
# its C.  The upgrade script to it is assembled the same way from
# sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/NN_*.sql.  Both assembled scripts are
# committed too, so the tree shows what a user installs: `make` rewrites them when a
# piece changes, `make check-sql` (run by make test) fails when a committed one differs
# from its pieces.  Released scripts (sql/stockml--0.1.0.sql, and every
# stockml--A--B.sql of an earlier release) are never edited again: see doc/upgrades.md.
PREVVERSION  = 0.1.0
INSTALL_SQL  = sql/$(EXTENSION)--$(EXTVERSION).sql
UPGRADE      = sql/$(EXTENSION)--$(PREVVERSION)--$(EXTVERSION).sql
INSTALL_PIECES = $(sort $(wildcard sql/install/*.sql))
UPGRADE_PIECES = $(sort $(wildcard sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/*.sql))
DATA         = $(sort $(wildcard sql/$(EXTENSION)--*.sql) $(INSTALL_SQL) $(UPGRADE))

REGRESS      = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS      := $(filter-out $(EXTENSION)--%,$(REGRESS))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION) --dbname=contrib_regression

PG_CONFIG   ?= pg_config
PG_CPPFLAGS  = -Isrc
# -Wextra's unused-parameter and missing-field-initializers fire on PostgreSQL's own
# macros (PG_FUNCTION_ARGS, designated initialisers); CI adds STOCKML_CFLAGS=-Werror.
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers $(STOCKML_CFLAGS)
SHLIB_LINK   = -lcurl -lopenblas -llapacke -lm $(STOCKML_LDFLAGS)

EXTRA_CLEAN  = tmp_check results regression.diffs regression.out test/fuzz/build

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# On a fresh machine `make demo` and `make test` install postgresql-server-dev-15 first.
all install installcheck:
	@echo "PGXS not found: install postgresql-server-dev-15 (or run make demo / make test)" >&2; exit 1
endif

all: $(INSTALL_SQL) $(UPGRADE)

$(INSTALL_SQL): $(INSTALL_PIECES)
	cat $^ > $@

$(UPGRADE): $(UPGRADE_PIECES)
	cat $^ > $@

.PHONY: check-sql
check-sql:
	@cat $(INSTALL_PIECES) | cmp -s - $(INSTALL_SQL) || { echo "$(INSTALL_SQL) differs from sql/install/*.sql: run make, then commit it" >&2; exit 1; }
	@cat $(UPGRADE_PIECES) | cmp -s - $(UPGRADE) || { echo "$(UPGRADE) differs from its pieces: run make, then commit it" >&2; exit 1; }

$(OBJS): $(wildcard src/*.h)

.PHONY: demo test test-ubsan test-valgrind test-asan bench fuzz lint format check-format
demo:
	bash scripts/demo.sh

test:
	bash test/run.sh

test-ubsan:
	STOCKML_SANITIZE=undefined bash test/run.sh

test-valgrind:
	STOCKML_VALGRIND=1 bash test/run.sh

test-asan:
	STOCKML_SANITIZE=address,undefined bash test/run.sh

bench:
	bash bench/run.sh

FUZZ_SECONDS ?= 600
fuzz:
	bash test/fuzz/run.sh --seconds $(FUZZ_SECONDS) --coverage

lint:
	bash scripts/lint.sh lint

format:
	bash scripts/lint.sh format

check-format:
	bash scripts/lint.sh check-format
