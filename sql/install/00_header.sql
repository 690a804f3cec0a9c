-- stockml extension script, assembled by the Makefile from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION stockml" to load this file. \quit

CREATE SCHEMA stockml;
COMMENT ON SCHEMA stockml IS 'stockml: prices, indicators, models and monitoring for stock-price prediction';
