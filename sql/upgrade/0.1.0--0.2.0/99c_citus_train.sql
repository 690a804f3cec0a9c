-- Citus (issue 11): train()'s per-symbol pieces (src/train_piece.c); distribute() registers
-- them to run where each symbol lives (its final form is in 99d_predict_state.sql).

CREATE FUNCTION stockml._train_piece_rows(symbol text, feature_spec jsonb, horizon integer, train_end date)
RETURNS bytea
AS 'MODULE_PATHNAME', 'stockml_train_piece_rows'
LANGUAGE C STABLE;
COMMENT ON FUNCTION stockml._train_piece_rows(text, jsonb, integer, date) IS
'train()''s piece, run where the symbol lives: the symbol''s training rows (day, target day, close, volatility, y, features) for a feature spec over its own bars, packed; train_end NULL: every bar';
REVOKE EXECUTE ON FUNCTION stockml._train_piece_rows(text, jsonb, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._train_piece_rows(text, jsonb, integer, date) TO stockml_admin;

CREATE FUNCTION stockml._train_piece_qr(symbol text, feature_spec jsonb, horizon integer, train_end date,
                                        rows_hash bigint, cuts integer[])
RETURNS bytea
AS 'MODULE_PATHNAME', 'stockml_train_piece_qr'
LANGUAGE C STABLE;
COMMENT ON FUNCTION stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[]) IS
'train()''s piece, run where the symbol lives: the QR factor R of [1 | x | y] of each run [cuts[k-1], cuts[k]) of the rows _train_piece_rows gives (rows_hash: their hash, an ERROR when they changed), packed';
REVOKE EXECUTE ON FUNCTION stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[]) TO stockml_admin;

