-- Re-adjusted history (issue 9 item 2): refresh() re-fetches a symbol's full history
-- when the provider re-adjusted it, and says so in ingest_log.error (status stays ok).
COMMENT ON COLUMN stockml.ingest_log.error IS 'why the fetch failed, or the first rejected rows and why; for a refresh that found the provider''s history re-adjusted (a new split or dividend, an overlap day that disagrees), what it did: ''re-adjusted: split 2:1 on 2020-08-31; full history re-fetched, ...''';
