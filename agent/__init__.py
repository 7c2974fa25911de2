"""The program that runs inside the backup Job (and on a laptop or in CI): ``mariadb-ha-backup``."""
