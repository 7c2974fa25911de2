"""The binary-log archive (point-in-time recovery): its object layout, its index and a binlog event reader.

``layout`` names the keys, ``records`` defines the index and gap records, ``index`` reads and writes
them (history, gap-free windows), ``rollups`` defines the objects that repeat a closed hour of records,
``rolling`` writes them and ``history`` reads the archive through them (a constant number of requests
for the windows), ``gtid`` handles GTIDs and GTID states, ``events`` parses the bytes
of a binlog so the archiver can cut at transaction boundaries and restore can find the last transaction
committed at or before a given second, ``segments`` builds (and unwraps) a self-contained segment, and
``snapshot`` reads a backup's binlog position from its dump.
"""
