/*
 * model_matrix.h — reading float8 arrays as feature matrices and vectors.
 */
#ifndef MODEL_MATRIX_H
#define MODEL_MATRIX_H

#include "postgres.h"

#include "utils/array.h"

extern const double *FloatArrayValues(ArrayType *array, int ndim, const char *what,
									  int *n, int *p);

#endif /* MODEL_MATRIX_H */
