-- Helpers of the tests that build or damage model blobs (52_gbt, 53_logistic, 85_hardening):
-- CRC-32C as src/model_io.c checks it, and the little-endian bytes of a value (\ir this file).
CREATE FUNCTION pg_temp.crc32c(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    crc bigint := 4294967295;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        crc := crc # get_byte(b, i);
        FOR k IN 1 .. 8 LOOP
            crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 2197175160 ELSE crc >> 1 END;
        END LOOP;
    END LOOP;
    RETURN crc # 4294967295;
END
$$;
CREATE FUNCTION pg_temp.le(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(substr(b, i, 1), ''::bytea ORDER BY i DESC) FROM generate_series(1, length(b)) i
$$;
