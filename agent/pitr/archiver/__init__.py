"""``archive-binlogs``: stream the binary log from a server into immutable segments in the bucket.

``nodes`` inspects and picks the server to follow (and refuses one that cannot give a correct
archive), ``stream`` supervises the ``mariadb-binlog`` child and tails the files it writes,
``segmenter`` cuts transactions into segments and commits them, ``watchdog`` notices a stream that
went quiet while its node did not, ``metrics`` publishes the lag, and ``archiver`` runs the whole loop
(resume from the bucket, failover, gaps, SIGTERM).
"""
