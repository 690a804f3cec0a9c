/*
 * train.h — training (train.c), the recording of failed runs in a
 * transaction of their own (run_recorder.c), and the per-symbol pieces of
 * training (train_piece.c): one symbol's training rows, and on Citus the same
 * rows and their QR factors computed on the worker that holds the symbol.
 */
#ifndef TRAIN_H
#define TRAIN_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/date.h"
#include "utils/jsonb.h"

#include "feature_matrix.h"
#include "interval.h"

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

/* One symbol's training rows, oldest first: complete features and a finite target */
typedef struct SymbolRows
{
	int		 n;
	int		 p;
	double	*x; /* n x p, row-major */
	double	*y;
	double	*close;
	double	*sigma; /* volatility known on the day (interval.c), NaN when none */
	DateADT *day;
	DateADT *target_day; /* day of the bar y ends at */
	uint64	 hash;		 /* of the rows, set by the pieces (TrainPieceRows) */
} SymbolRows;

/* What crossed the network for the pieces of one head */
typedef struct PieceBytes
{
	int	  symbols;
	int64 rows; /* _train_piece_rows results */
	int64 qr;	/* _train_piece_qr results */
} PieceBytes;

/* the volatility scale of the intervals this stockml trains */
extern const IntervalScale TrainVolatilityScale;

extern void				ValidateModelName(const char *name);
extern void				TrainSymbolRows(const char *symbol, const FeatureSpec *spec, int horizon,
										const DateADT *train_end, SymbolRows *out);
extern bool				TrainPiecesApply(const FeatureSpec *spec);
extern void				TrainPieceRows(const char *symbol, Jsonb *spec, int p, int horizon,
									   const DateADT *train_end, SymbolRows *out, PieceBytes *bytes);
extern void				TrainPieceQr(const char *symbol, Jsonb *spec, int p, int horizon,
									 const DateADT *train_end, uint64 rows_hash, const int *cuts,
									 int ncuts, double *r, int64 *nrows, PieceBytes *bytes);
extern void				RecordFailedRun(const FailedRun *run);
extern PGDLLEXPORT void StockmlRunRecorderMain(Datum main_arg);


#endif /* TRAIN_H */
