-- stockml extension script (current version), assembled by the Makefile from
-- sql/install/*.sql in name order.  Released versions are frozen files:
-- sql/stockml--0.1.0.sql; changes to SQL objects also go into the upgrade
-- script pieces in sql/upgrade/ (doc/upgrades.md).
\echo Use "CREATE EXTENSION stockml" to load this file. \quit

CREATE SCHEMA stockml;
COMMENT ON SCHEMA stockml IS 'stockml: prices, indicators, models and monitoring for stock-price prediction';
