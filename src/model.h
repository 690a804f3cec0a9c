/*
 * model.h — the algorithm interface every stockml model implements, and the
 * in-memory model that training builds, the bytea format stores and the
 * prediction path evaluates.
 *
 * A model predicts the log return over the horizon from one feature vector.
 * Standardisation (per-feature mean and population standard deviation, as
 * scikit-learn's StandardScaler) belongs to the model, so callers always pass
 * raw features.  An algorithm is a ModelAlgorithm: its name and id, the
 * parameters it accepts, and fit / predict / payload write / payload read.
 * Adding one (gbt, logistic) means one new model_xxx.c and one line in
 * model.c's table; the registry, the bytea format and predict do not change.
 */
#ifndef MODEL_H
#define MODEL_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#define MODEL_MAX_FEATURES 4096
/*
 * Fitting solves a p x p SVD in one LAPACK call, which cannot be
 * interrupted; at 512 features it takes well under a second, so cancel and
 * statement_timeout still act within about one.
 */
#define MODEL_MAX_FIT_FEATURES 512
#define MODEL_MAX_PARAMS 16
#define MODEL_MAX_HEADS 64		/* horizons of one model (train's horizons) */
#define MODEL_MAX_HORIZON 10000 /* bars ahead; FEATURE_MAX_HORIZON too */

typedef enum ModelParamType
{
	MODEL_PARAM_REAL,
	MODEL_PARAM_INT,
	MODEL_PARAM_BOOL /* JSON true or false, stored as 1 or 0 */
} ModelParamType;

/* One parameter an algorithm accepts, with its allowed range and default */
typedef struct ModelParamSpec
{
	const char	  *name;
	ModelParamType type;
	double		   min;
	double		   max;
	double		   default_value;
	const char	  *help; /* what the range means, for errhint */
	/*
	 * A JSON keyword also accepted, stored as keyword_value (outside
	 * [min, max]): "null" for JSON null (max_depth: none), or a string such as
	 * "auto".  NULL when the parameter takes numbers (or booleans) only.
	 */
	const char *keyword;
	double		keyword_value;
} ModelParamSpec;

/* Rows to fit on: row-major n x p features and n targets (log returns) */
typedef struct ModelTrainData
{
	const double *x;
	const double *y;
	int64		  n;
	int			  p;
} ModelTrainData;

struct ModelAlgorithm;
struct LinearSummary;
struct RawQr;

typedef struct Model
{
	const struct ModelAlgorithm *algorithm;
	int							 n_features;
	double						*mean;					   /* n_features: subtracted from each raw feature */
	double						*scale;					   /* n_features: then divided by this (> 0) */
	double						 params[MODEL_MAX_PARAMS]; /* in the algorithm's param order */
	/* linear models (naive keeps zeros): intercept + coef . standardized x */
	double	intercept;
	double *coef;	  /* n_features */
	double *coef_raw; /* coef / scale, set by ModelPrepare for the fast path */
	void   *state;	  /* anything else an algorithm keeps */
} Model;

/*
 * What a stored model holds: one model per forecast horizon, horizons
 * ascending (0 when the blob does not record it: format 1, e.g. fit()).
 */
typedef struct ModelHeads
{
	int		nheads;
	int	   *horizons;
	Model **models;
} ModelHeads;

/* Bounds-checked cursor over a payload; reading past its end is an ERROR */
typedef struct ModelReader
{
	const unsigned char *data;
	size_t				 len;
	size_t				 pos;
} ModelReader;

typedef struct ModelAlgorithm
{
	const char			 *name;
	uint16				  id; /* stored in the bytea; never reuse one */
	int					  nparams;
	const ModelParamSpec *params;
	/* validate cross-parameter rules (single ranges are checked generically) */
	void (*check_params)(const double *params);
	/*
	 * Linear algorithms fit from the QR summary of the standardized rows
	 * (linalg.h): fit_summary.  Others fit on the rows: fit.  Either way
	 * model->mean and model->scale are already set from the same rows.
	 */
	void (*fit_summary)(Model *model, const struct LinearSummary *summary);
	void (*fit)(Model *model, const ModelTrainData *data);
	/*
	 * raw_features: fit and predict see the raw features (mean 0, scale 1 are
	 * kept), for algorithms that standardisation does not change (trees).
	 */
	bool raw_features;
	/* predict from one standardized vector (n_features values) */
	double (*predict)(const Model *model, const double *z);
	/*
	 * classifiers: P(up) = P(y > 0) from one standardized vector; NULL for
	 * regressors (their P(up) comes from the version's residuals: interval.c)
	 */
	double (*probability)(const Model *model, const double *z);
	void (*write_payload)(const Model *model, StringInfo buf);
	void (*read_payload)(Model *model, ModelReader *reader);
	/*
	 * per-feature importance into out (n_features values); returns how it
	 * is measured ("standardized_coefficient", "split_gain")
	 */
	const char *(*importance)(const Model *model, double *out);
	/* optional: append what else the model holds to model_describe's object (", \"key\": value") */
	void (*describe)(const Model *model, StringInfo buf);
} ModelAlgorithm;

/* model.c */
extern const ModelAlgorithm *ModelFindAlgorithm(const char *name, bool missing_ok);
extern const ModelAlgorithm *ModelFindAlgorithmById(uint16 id);
extern void					 ModelParseParams(const ModelAlgorithm *alg, Jsonb *params,
											  const char *const *extra_keys, double *values);
extern char					*ModelParamsToJson(const ModelAlgorithm *alg, const double *values);
extern Model				*ModelCreate(const ModelAlgorithm *alg, int n_features, const double *params);
extern void					 ModelFit(Model *model, const ModelTrainData *data);
extern void					 ModelFitFromQr(Model *model, const struct RawQr *qr);
extern bool					 ModelArithmeticFinite(const Model *model);
extern void					 ModelPrepare(Model *model);
extern double				 ModelPredict(const Model *model, const double *x, double *work);
extern double				 ModelProbabilityUp(const Model *model, const double *x, double *work);
extern void					 ModelStandardization(const ModelTrainData *data, double *mean, double *scale);
extern bool					 ModelParamValid(const ModelParamSpec *spec, double value);

/* shared by linear algorithms */
extern void		   LinearWritePayload(const Model *model, StringInfo buf);
extern void		   LinearReadPayload(Model *model, ModelReader *reader);
extern double	   LinearPredict(const Model *model, const double *z);
extern const char *LinearImportance(const Model *model, double *out);

/* model_io.c: the bytea format */
extern bytea	  *ModelSerialize(const Model *model);
extern Model	  *ModelDeserialize(const bytea *blob);
extern bytea	  *ModelSerializeHeads(const ModelHeads *heads);
extern ModelHeads *ModelDeserializeHeads(const bytea *blob);
extern void		   ModelWriteFloat8(StringInfo buf, double value);
extern void		   ModelWriteUint32(StringInfo buf, uint32 value);
extern double	   ModelReadFloat8(ModelReader *reader);
extern uint32	   ModelReadUint32(ModelReader *reader);

/* the algorithms */
extern const ModelAlgorithm model_naive;
extern const ModelAlgorithm model_ridge;
extern const ModelAlgorithm model_elastic_net;
extern const ModelAlgorithm model_gbt;
extern const ModelAlgorithm model_logistic;

#endif /* MODEL_H */
