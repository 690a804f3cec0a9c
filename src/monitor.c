/*
 * monitor.c — C helpers of monitor() (sql/install/62_monitor.sql): reading the
 * reference sample a model keeps (models.reference jsonb) as one float8[] per
 * feature, in one pass over the jsonb instead of one per feature.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(stockml_reference_columns);

static const JsonbValue *FindKey(JsonbContainer *container, const char *const *keys, JsonbValue *buf);
static bool				 JsonbNumber(const JsonbValue *v, double *out);
static Datum			 ColumnArray(const double *values, const bool *nulls, int n);

/* The value of the first of keys present in an object container, or NULL */
static const JsonbValue *
FindKey(JsonbContainer *container, const char *const *keys, JsonbValue *buf)
{
	for (; *keys; keys++)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(container, *keys, strlen(*keys), buf);

		if (v != NULL)
			return v;
	}
	return NULL;
}

/* A finite-or-not float8 from a JSON number; false for anything else */
static bool
JsonbNumber(const JsonbValue *v, double *out)
{
	if (v == NULL || v->type != jbvNumeric)
		return false;
	*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
	return true;
}

static Datum
ColumnArray(const double *values, const bool *nulls, int n)
{
	Datum *elems = palloc(sizeof(Datum) * Max(n, 1));
	int	   dims[1] = {n};
	int	   lbs[1] = {1};

	for (int i = 0; i < n; i++)
		elems[i] = Float8GetDatum(values[i]);
	return PointerGetDatum(construct_md_array(elems, (bool *) nulls, 1, dims, lbs, FLOAT8OID,
											  sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * stockml.reference_columns(reference jsonb, names text[])
 *   RETURNS TABLE (ord integer, feature text, vals float8[])
 *
 * Reads what train() stores, {"names": [..], "rows": [[v, ..], ..], ..}, and
 * also {"<feature>": [v, ..], ..}; "features"/"columns" and "sample"/"x" are read
 * as synonyms, a bare array as rows.  When the sample names its columns, a
 * feature it does not name gets NULL; without names features are taken by
 * position.  Anything but a number is a NULL element.
 */
Datum
stockml_reference_columns(PG_FUNCTION_ARGS)
{
	static const char *const row_keys[] = {"sample", "rows", "x", NULL};
	static const char *const name_keys[] = {"names", "features", "columns", NULL};
	ReturnSetInfo			*rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb					*reference;
	ArrayType				*names_array;
	Datum					*names;
	bool					*name_nulls;
	int						 nnames;
	JsonbValue				 buf;
	JsonbContainer			*rows = NULL;
	JsonbContainer			*row_names = NULL;
	int						 nrows = 0;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature names must not be NULL")));
	reference = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	if (reference == NULL || JB_ROOT_IS_SCALAR(reference))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the model has no reference sample"),
				 errhint("Retrain the model: train() stores a sample of its training features for monitoring.")));
	names_array = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(names_array, TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &nnames);

	InitMaterializedSRF(fcinfo, 0);

	if (JB_ROOT_IS_ARRAY(reference))
		rows = &reference->root;
	else
	{
		const JsonbValue *v = FindKey(&reference->root, row_keys, &buf);

		if (v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
			rows = v->val.binary.data;
		v = FindKey(&reference->root, name_keys, &buf);
		if (v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
			row_names = v->val.binary.data;
	}
	if (rows != NULL)
		nrows = JsonContainerSize(rows);

	for (int f = 0; f < nnames; f++)
	{
		char   *name = name_nulls[f] ? NULL : TextDatumGetCString(names[f]);
		Datum	values[3];
		bool	nulls[3] = {false, false, false};
		double *column;
		bool   *column_nulls;
		int		n = 0;

		CHECK_FOR_INTERRUPTS();
		values[0] = Int32GetDatum(f + 1);
		values[1] = name ? CStringGetTextDatum(name) : (Datum) 0;
		nulls[1] = name == NULL;

		if (rows != NULL)
		{
			/* the feature's position in the sample's own names, if it has them */
			int pos = row_names != NULL ? -1 : f;

			if (row_names != NULL && name != NULL)
			{
				int count = JsonContainerSize(row_names);

				for (int k = 0; k < count; k++)
				{
					JsonbValue *nv = getIthJsonbValueFromContainer(row_names, k);

					if (nv != NULL && nv->type == jbvString &&
						nv->val.string.len == (int) strlen(name) &&
						memcmp(nv->val.string.val, name, nv->val.string.len) == 0)
					{
						pos = k;
						break;
					}
				}
			}
			if (pos < 0)
			{
				/* a feature the sample does not name */
				nulls[2] = true;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				continue;
			}
			column = palloc(sizeof(double) * Max(nrows, 1));
			column_nulls = palloc(sizeof(bool) * Max(nrows, 1));
			for (int r = 0; r < nrows; r++)
			{
				JsonbValue *row = getIthJsonbValueFromContainer(rows, r);
				JsonbValue *cell = NULL;

				if (row != NULL && row->type == jbvBinary && JsonContainerIsArray(row->val.binary.data))
					cell = getIthJsonbValueFromContainer(row->val.binary.data, pos);
				column_nulls[n] = !JsonbNumber(cell, &column[n]);
				n++;
			}
			values[2] = ColumnArray(column, column_nulls, n);
		}
		else
		{
			JsonbValue	colbuf;
			JsonbValue *col = name ? getKeyJsonValueFromContainer(&reference->root, name,
																  strlen(name), &colbuf) :
									 NULL;

			if (col != NULL && col->type == jbvBinary && JsonContainerIsArray(col->val.binary.data))
			{
				int count = JsonContainerSize(col->val.binary.data);

				column = palloc(sizeof(double) * Max(count, 1));
				column_nulls = palloc(sizeof(bool) * Max(count, 1));
				for (int k = 0; k < count; k++)
				{
					column_nulls[n] = !JsonbNumber(getIthJsonbValueFromContainer(col->val.binary.data, k),
												   &column[n]);
					n++;
				}
				values[2] = ColumnArray(column, column_nulls, n);
			}
			else
				nulls[2] = true;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
