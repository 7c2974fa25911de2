"""The binary-log archive (point-in-time recovery): its object layout, its index and a binlog event reader.

``layout`` names the keys, ``index`` reads and writes the records that make segments count, ``events``
parses the bytes of a binlog so the archiver can cut at transaction boundaries and restore can find the
last transaction committed at or before a given second.
"""
