/*
 * train.h — training (train.c) and the recording of failed runs in a
 * transaction of their own (run_recorder.c).
 */
#ifndef TRAIN_H
#define TRAIN_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/date.h"

/* What a failed run records */
typedef struct FailedRun
{
	int64		run_id;
	const char *model_name;
	const char *algorithm;
	char	  **symbols;
	int			nsymbols;
	int			horizon;
	const char *feature_set;
	bool		has_train_end;
	DateADT		train_end;
	const char *params; /* jsonb text as given */
	TimestampTz started_at;
	const char *error;
} FailedRun;

extern void				ValidateModelName(const char *name);
extern void				RecordFailedRun(const FailedRun *run);
extern PGDLLEXPORT void StockmlRunRecorderMain(Datum main_arg);


#endif /* TRAIN_H */
