-- stockml upgrade 0.1.0 -> 0.2.0, assembled by the Makefile from
-- sql/upgrade/0.1.0--0.2.0/*.sql in name order.  Every change to an SQL object
-- made in sql/install/ for 0.2.0 is made here too; test/upgrade/ checks that an
-- upgraded database and a fresh 0.2.0 install have the same catalog.
\echo Use "ALTER EXTENSION stockml UPDATE TO '0.2.0'" to load this file. \quit
