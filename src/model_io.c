/*
 * model_io.c — the bytea format of a stored model.
 *
 *   offset  size  field (integers and doubles little-endian)
 *        0     4  magic "SMLM"
 *        4     2  format version (MODEL_FORMAT_VERSION)
 *        6     2  algorithm id (model.h)
 *        8     4  feature count p
 *       12     4  parameter count k
 *       16     4  payload length L
 *       20   16p  per-feature mean, then per-feature scale
 *            8k   parameters, in the algorithm's order
 *             L   algorithm payload (linear models: intercept, p coefficients)
 *      end-4   4  CRC-32C (PostgreSQL's) of every byte before it
 *
 * The decoder checks the magic, the total length, the checksum, the version
 * and every count before it reads anything else, and every read of the
 * payload is bounds-checked, so a truncated, altered or foreign blob is an
 * ERROR — never a crash and never a silently wrong prediction.
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_crc32c.h"
#include "utils/float.h"

#include "model.h"

#define MODEL_MAGIC "SMLM"
#define MODEL_FORMAT_VERSION 1
#define MODEL_HEADER_SIZE 20
#define MODEL_CRC_SIZE 4

static void WriteUint16(StringInfo buf, uint16 value);
static uint16 GetUint16(const unsigned char *p);
static uint32 GetUint32(const unsigned char *p);
static void BlobError(const char *detail) pg_attribute_noreturn();

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
	uint64		bits;
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
	uint32		v;

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
	uint64		bits = 0;
	double		v;

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

bytea *
ModelSerialize(const Model *model)
{
	const ModelAlgorithm *alg = model->algorithm;
	StringInfoData buf;
	StringInfoData payload;
	pg_crc32c	crc;
	bytea	   *result;

	initStringInfo(&payload);
	alg->write_payload(model, &payload);

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, MODEL_MAGIC, 4);
	WriteUint16(&buf, MODEL_FORMAT_VERSION);
	WriteUint16(&buf, alg->id);
	ModelWriteUint32(&buf, model->n_features);
	ModelWriteUint32(&buf, alg->nparams);
	ModelWriteUint32(&buf, payload.len);
	for (int j = 0; j < model->n_features; j++)
		ModelWriteFloat8(&buf, model->mean[j]);
	for (int j = 0; j < model->n_features; j++)
		ModelWriteFloat8(&buf, model->scale[j]);
	for (int i = 0; i < alg->nparams; i++)
		ModelWriteFloat8(&buf, model->params[i]);
	appendBinaryStringInfo(&buf, payload.data, payload.len);

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf.data, buf.len);
	FIN_CRC32C(crc);
	ModelWriteUint32(&buf, crc);

	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	pfree(payload.data);
	return result;
}

Model *
ModelDeserialize(const bytea *blob)
{
	const unsigned char *data = (const unsigned char *) VARDATA_ANY(blob);
	size_t		len = VARSIZE_ANY_EXHDR(blob);
	const ModelAlgorithm *alg;
	pg_crc32c	crc;
	uint32		p,
				k,
				payload_len;
	uint16		version;
	size_t		expected;
	ModelReader reader;
	Model	   *model;

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
	if (version != MODEL_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stockml model format version %u is not supported", version),
				 errdetail("This stockml reads format version %d.", MODEL_FORMAT_VERSION),
				 errhint("Upgrade stockml (ALTER EXTENSION stockml UPDATE) or retrain the model.")));
	alg = ModelFindAlgorithmById(GetUint16(data + 6));
	if (alg == NULL)
		BlobError("The algorithm id is unknown to this stockml.");
	p = GetUint32(data + 8);
	k = GetUint32(data + 12);
	payload_len = GetUint32(data + 16);
	if (p < 1 || p > MODEL_MAX_FEATURES)
		BlobError("The feature count is out of range.");
	if (k != (uint32) alg->nparams)
		BlobError("The parameter count does not match the algorithm.");
	expected = (size_t) MODEL_HEADER_SIZE + 16 * (size_t) p + 8 * (size_t) k +
		(size_t) payload_len + MODEL_CRC_SIZE;
	if (payload_len > len || expected != len)
		BlobError("The lengths recorded in the header do not add up to the value's size.");

	model = ModelCreate(alg, (int) p, NULL);
	reader.data = data + MODEL_HEADER_SIZE;
	reader.len = len - MODEL_HEADER_SIZE - MODEL_CRC_SIZE;
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
		if (model->params[i] < spec->min || model->params[i] > spec->max)
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
	return model;
}
