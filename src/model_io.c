/*
 * model_io.c — the bytea format of a stored model.
 *
 * Format 1 holds one model (integers and doubles little-endian):
 *
 *   offset  size  field
 *        0     4  magic "SMLM"
 *        4     2  format version 1
 *        6        one head body (below)
 *      end-4   4  CRC-32C (PostgreSQL's) of every byte before it
 *
 * Format 2 holds one head per forecast horizon (train(..., horizons => ...)):
 *
 *        0     4  magic "SMLM"
 *        4     2  format version 2
 *        6     2  head count H (2 .. MODEL_MAX_HEADS)
 *        8        H times: horizon h (4 bytes, strictly increasing), then a head body
 *      end-4   4  CRC-32C
 *
 * A head body:
 *
 *        0     2  algorithm id (model.h)
 *        2     4  feature count p
 *        6     4  parameter count k
 *       10     4  payload length L
 *       14   16p  per-feature mean, then per-feature scale
 *            8k   parameters, in the algorithm's order
 *             L   algorithm payload (linear models: intercept, p coefficients)
 *
 * The writer uses the lowest format that holds the model: one head is format
 * 1, byte for byte what 0.1.0 wrote and reads; the decoder reads both.  It
 * checks the magic, the total length, the checksum, the version and every
 * count before it reads anything else, and every read of the payload is
 * bounds-checked, so a truncated, altered or foreign blob is an ERROR —
 * never a crash and never a silently wrong prediction.
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_crc32c.h"
#include "utils/float.h"

#include "model.h"

#define MODEL_MAGIC "SMLM"
#define MODEL_FORMAT_VERSION 2 /* the newest this stockml reads */
#define MODEL_HEADER_SIZE 20   /* format 1: magic, version and one head body's header */
#define MODEL_HEAD_HEADER_SIZE 14
#define MODEL_CRC_SIZE 4

static void	  WriteUint16(StringInfo buf, uint16 value);
static uint16 GetUint16(const unsigned char *p);
static uint32 GetUint32(const unsigned char *p);
static void	  BlobError(const char *detail) pg_attribute_noreturn();
static void	  WriteHeadBody(StringInfo buf, const Model *model, const StringInfoData *payload);
static Model *ReadHeadBody(const unsigned char *data, size_t end, size_t *pos);
static bytea *FinishBlob(StringInfo buf);

static void
WriteUint16(StringInfo buf, uint16 value)
{
	unsigned char b[2] = {value & 0xFF, value >> 8};

	appendBinaryStringInfo(buf, (const char *) b, 2);
}

void
ModelWriteUint32(StringInfo buf, uint32 value)
{
	unsigned char b[4] = {value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF, value >> 24};

	appendBinaryStringInfo(buf, (const char *) b, 4);
}

void
ModelWriteFloat8(StringInfo buf, double value)
{
	uint64		  bits;
	unsigned char b[8];

	memcpy(&bits, &value, 8);
	for (int i = 0; i < 8; i++)
		b[i] = (bits >> (8 * i)) & 0xFF;
	appendBinaryStringInfo(buf, (const char *) b, 8);
}

static uint16
GetUint16(const unsigned char *p)
{
	return (uint16) (p[0] | (p[1] << 8));
}

static uint32
GetUint32(const unsigned char *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

static void
BlobError(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid stockml model"),
			 errdetail("%s", detail),
			 errhint("Use the model column of stockml.models as stored; retrain the model if the row is damaged.")));
}

uint32
ModelReadUint32(ModelReader *reader)
{
	uint32 v;

	if (reader->len - reader->pos < 4)
		BlobError("The model payload ends early.");
	v = GetUint32(reader->data + reader->pos);
	reader->pos += 4;
	return v;
}

/* Read one finite double; NaN or infinity in a model is damage */
double
ModelReadFloat8(ModelReader *reader)
{
	uint64 bits = 0;
	double v;

	if (reader->len - reader->pos < 8)
		BlobError("The model payload ends early.");
	for (int i = 0; i < 8; i++)
		bits |= (uint64) reader->data[reader->pos + i] << (8 * i);
	reader->pos += 8;
	memcpy(&v, &bits, 8);
	if (!isfinite(v))
		BlobError("The model holds a value that is not a finite number.");
	return v;
}

/* A head body: algorithm id, counts, standardization, parameters, then the payload given */
static void
WriteHeadBody(StringInfo buf, const Model *model, const StringInfoData *payload)
{
	const ModelAlgorithm *alg = model->algorithm;

	WriteUint16(buf, alg->id);
	ModelWriteUint32(buf, model->n_features);
	ModelWriteUint32(buf, alg->nparams);
	ModelWriteUint32(buf, payload->len);
	for (int j = 0; j < model->n_features; j++)
		ModelWriteFloat8(buf, model->mean[j]);
	for (int j = 0; j < model->n_features; j++)
		ModelWriteFloat8(buf, model->scale[j]);
	for (int i = 0; i < alg->nparams; i++)
		ModelWriteFloat8(buf, model->params[i]);
	appendBinaryStringInfo(buf, payload->data, payload->len);
}

/* Append the checksum and return buf as a bytea; frees buf */
static bytea *
FinishBlob(StringInfo buf)
{
	pg_crc32c crc;
	bytea	 *result;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf->data, buf->len);
	FIN_CRC32C(crc);
	ModelWriteUint32(buf, crc);

	result = palloc(VARHDRSZ + buf->len);
	SET_VARSIZE(result, VARHDRSZ + buf->len);
	memcpy(VARDATA(result), buf->data, buf->len);
	pfree(buf->data);
	return result;
}

bytea *
ModelSerialize(const Model *model)
{
	StringInfoData buf;
	StringInfoData payload;
	bytea		  *result;

	initStringInfo(&payload);
	model->algorithm->write_payload(model, &payload);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, MODEL_MAGIC, 4);
	WriteUint16(&buf, 1);
	WriteHeadBody(&buf, model, &payload);
	result = FinishBlob(&buf);
	pfree(payload.data);
	return result;
}

/* One head is format 1 (horizon not stored), several are format 2 */
bytea *
ModelSerializeHeads(const ModelHeads *heads)
{
	StringInfoData buf;

	if (heads->nheads == 1)
		return ModelSerialize(heads->models[0]);
	if (heads->nheads < 1 || heads->nheads > MODEL_MAX_HEADS)
		elog(ERROR, "a model has 1 to %d heads, not %d", MODEL_MAX_HEADS, heads->nheads);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, MODEL_MAGIC, 4);
	WriteUint16(&buf, 2);
	WriteUint16(&buf, heads->nheads);
	for (int h = 0; h < heads->nheads; h++)
	{
		StringInfoData payload;

		initStringInfo(&payload);
		heads->models[h]->algorithm->write_payload(heads->models[h], &payload);
		ModelWriteUint32(&buf, heads->horizons[h]);
		WriteHeadBody(&buf, heads->models[h], &payload);
		pfree(payload.data);
	}
	return FinishBlob(&buf);
}

/*
 * Decode the head body at data[*pos] (data[0 .. end) is what precedes the
 * checksum) and move *pos past it.
 */
static Model *
ReadHeadBody(const unsigned char *data, size_t end, size_t *pos)
{
	const unsigned char	 *h = data + *pos;
	size_t				  avail = end - *pos;
	const ModelAlgorithm *alg;
	uint32				  p,
		k,
		payload_len;
	size_t		expected;
	ModelReader reader;
	Model	   *model;

	if (avail < MODEL_HEAD_HEADER_SIZE)
		BlobError("The value is shorter than a model header; it is truncated.");
	alg = ModelFindAlgorithmById(GetUint16(h));
	if (alg == NULL)
		BlobError("The algorithm id is unknown to this stockml.");
	p = GetUint32(h + 2);
	k = GetUint32(h + 6);
	payload_len = GetUint32(h + 10);
	if (p < 1 || p > MODEL_MAX_FEATURES)
		BlobError("The feature count is out of range.");
	if (k != (uint32) alg->nparams)
		BlobError("The parameter count does not match the algorithm.");
	expected = (size_t) MODEL_HEAD_HEADER_SIZE + 16 * (size_t) p + 8 * (size_t) k +
			   (size_t) payload_len;
	if (payload_len > avail || expected > avail)
		BlobError("The lengths recorded in the header do not add up to the value's size.");

	model = ModelCreate(alg, (int) p, NULL);
	reader.data = h + MODEL_HEAD_HEADER_SIZE;
	reader.len = expected - MODEL_HEAD_HEADER_SIZE;
	reader.pos = 0;
	for (uint32 j = 0; j < p; j++)
		model->mean[j] = ModelReadFloat8(&reader);
	for (uint32 j = 0; j < p; j++)
	{
		model->scale[j] = ModelReadFloat8(&reader);
		if (!(model->scale[j] > 0))
			BlobError("A feature scale is not positive.");
	}
	for (uint32 i = 0; i < k; i++)
	{
		const ModelParamSpec *spec = &alg->params[i];

		model->params[i] = ModelReadFloat8(&reader);
		if (!ModelParamValid(spec, model->params[i]))
			BlobError("A parameter is out of its range.");
	}
	/* the payload reader sees exactly the payload */
	reader.len = reader.pos + payload_len;
	alg->read_payload(model, &reader);
	if (reader.pos != reader.len)
		BlobError("The payload is longer than the algorithm reads.");
	ModelPrepare(model);
	if (!ModelArithmeticFinite(model))
		BlobError("Its coefficients over its feature scales overflow float8: no prediction of it would be finite.");
	*pos += expected;
	return model;
}

ModelHeads *
ModelDeserializeHeads(const bytea *blob)
{
	const unsigned char *data = (const unsigned char *) VARDATA_ANY(blob);
	size_t				 len = VARSIZE_ANY_EXHDR(blob);
	size_t				 end;
	size_t				 pos;
	pg_crc32c			 crc;
	uint16				 version;
	ModelHeads			*heads = palloc0(sizeof(ModelHeads));

	if (len == 0)
		BlobError("The value is empty.");
	if (len < 4 || memcmp(data, MODEL_MAGIC, 4) != 0)
		BlobError("The value does not start with the stockml model magic number; it is not a stockml model.");
	if (len < MODEL_HEADER_SIZE + MODEL_CRC_SIZE)
		BlobError("The value is shorter than a model header; it is truncated.");

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len - MODEL_CRC_SIZE);
	FIN_CRC32C(crc);
	if (crc != GetUint32(data + len - MODEL_CRC_SIZE))
		BlobError("The checksum does not match: the value is truncated or altered.");

	version = GetUint16(data + 4);
	if (version < 1 || version > MODEL_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stockml model format version %u is not supported", version),
				 errdetail("This stockml reads format versions 1 to %d.", MODEL_FORMAT_VERSION),
				 errhint("Upgrade stockml (ALTER EXTENSION stockml UPDATE) or retrain the model.")));
	end = len - MODEL_CRC_SIZE;
	pos = 6;
	if (version == 1)
		heads->nheads = 1;
	else
	{
		heads->nheads = GetUint16(data + 6);
		pos = 8;
		if (heads->nheads < 2 || heads->nheads > MODEL_MAX_HEADS)
			BlobError("The head count is out of range.");
	}
	heads->horizons = palloc0(sizeof(int) * heads->nheads);
	heads->models = palloc(sizeof(Model *) * heads->nheads);
	for (int i = 0; i < heads->nheads; i++)
	{
		if (version > 1)
		{
			uint32 h;

			if (end - pos < 4)
				BlobError("The value is shorter than a model header; it is truncated.");
			h = GetUint32(data + pos);
			pos += 4;
			if (h < 1 || h > MODEL_MAX_HORIZON || (i > 0 && h <= (uint32) heads->horizons[i - 1]))
				BlobError("A head's horizon is out of range or not after the previous head's.");
			heads->horizons[i] = (int) h;
		}
		heads->models[i] = ReadHeadBody(data, end, &pos);
		if (heads->models[i]->n_features != heads->models[0]->n_features)
			BlobError("The heads take different numbers of features.");
	}
	if (pos != end)
		BlobError("The lengths recorded in the header do not add up to the value's size.");
	return heads;
}

/* A model of one head; a model with several is an ERROR (the caller takes one) */
Model *
ModelDeserialize(const bytea *blob)
{
	ModelHeads *heads = ModelDeserializeHeads(blob);

	if (heads->nheads != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the model holds %d heads, one per horizon", heads->nheads),
				 errhint("stockml.predict(model_name, x) serves the head of the model's own horizon, "
						 "stockml.predict_path(model_name, symbol) every head; stockml.model_describe() shows them.")));
	return heads->models[0];
}
