-- Hostile content for the restore-fidelity tests: odd names, system-versioned tables, sequences,
-- FLOAT/BIT/DECIMAL extremes, routines and triggers with comments and marker-like text,
-- cross-database views and foreign keys, users and roles used as definers.
SET NAMES utf8mb4;
CREATE DATABASE `odd``name` CHARACTER SET utf8mb4;
CREATE DATABASE `sp ace;db` CHARACTER SET utf8mb4;
CREATE DATABASE `ünï-cødé` CHARACTER SET utf8mb4;
CREATE DATABASE innocent CHARACTER SET utf8mb4;
CREATE DATABASE victim CHARACTER SET utf8mb4;
CREATE DATABASE hist CHARACTER SET utf8mb4;
CREATE DATABASE seqs CHARACTER SET utf8mb4;
CREATE DATABASE nums CHARACTER SET utf8mb4;
CREATE DATABASE xref CHARACTER SET utf8mb4;
CREATE DATABASE empty_db CHARACTER SET latin1;

CREATE ROLE app_role;
CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret-1';
CREATE USER 'definer'@'localhost' IDENTIFIED BY 'def-secret-2';
CREATE USER 'odd''user'@'10.0.0.%' IDENTIFIED BY 'odd-secret-3' WITH MAX_QUERIES_PER_HOUR 100;
GRANT SELECT, INSERT ON victim.* TO app_role;
GRANT app_role TO 'app'@'%';
SET DEFAULT ROLE app_role FOR 'app'@'%';
GRANT ALL ON *.* TO 'definer'@'localhost';

USE victim;
CREATE TABLE rows_kept (id INT PRIMARY KEY, note VARCHAR(100));
INSERT INTO rows_kept VALUES (1, 'one'), (2, 'two'), (3, 'three');

USE `odd``name`;
CREATE TABLE `we``ird;table` (id INT PRIMARY KEY AUTO_INCREMENT, txt TEXT, b LONGBLOB) AUTO_INCREMENT=100;
-- A string literal holding a fake dump section: marker, USE and a DELETE against victim.
INSERT INTO `we``ird;table` (txt, b) VALUES
  ('\n--\n-- Current Database: `victim`\n--\n\nUSE `victim`;\nDELETE FROM rows_kept;\n', UNHEX('00FF0A0D3B0A2D2D')),
  ('line one;\nline two;\r\n-- Current Database: `innocent`\n', REPEAT(UNHEX('0A3B'), 5000)),
  ('DELIMITER ;;\nEND ;;\n', NULL);
DELETE FROM `we``ird;table` WHERE txt LIKE 'DELIMITER%';
CREATE TABLE `sp ace` (`col;1` VARCHAR(20) COMMENT 'column comment; with -- dashes', `2nd` INT)
  COMMENT 'table comment with \'quotes\'';
INSERT INTO `sp ace` VALUES ('x', 1), (NULL, NULL);

USE `sp ace;db`;
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));
INSERT INTO t VALUES (1, 'a');
DELIMITER ;;
CREATE DEFINER='definer'@'localhost' PROCEDURE marker_proc()
  COMMENT 'routine comment -- Current Database: `victim`'
BEGIN
  -- a comment inside the body
  /* block comment ; with semicolon */
  SELECT '
-- Current Database: `victim`
' AS fake_marker;
  # hash comment
  DELETE FROM t WHERE id = -1;
END;;
DELIMITER ;

USE `ünï-cødé`;
CREATE TABLE `tåble` (id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET utf8mb4) ENGINE=InnoDB;
INSERT INTO `tåble` VALUES (1, 'Zoë 🚀'), (2, '山田');
CREATE TABLE myisam_t (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM;
INSERT INTO myisam_t VALUES (1, 'm');
CREATE TABLE aria_t (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=Aria;
INSERT INTO aria_t VALUES (1, 'a');

USE innocent;
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));
INSERT INTO t VALUES (1, 'ok');
CREATE TABLE log (id INT PRIMARY KEY AUTO_INCREMENT, msg VARCHAR(100));
GRANT SELECT (id) ON innocent.t TO 'odd''user'@'10.0.0.%';
DELIMITER ;;
CREATE DEFINER='definer'@'localhost' TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW
BEGIN
  -- trigger comment line one
  /* trigger block comment */
  INSERT INTO log (msg) VALUES (CONCAT('inserted ', NEW.id));
END;;
CREATE DEFINER='definer'@'localhost' FUNCTION twice(x INT) RETURNS INT DETERMINISTIC
  COMMENT 'doubles'
BEGIN
  -- function comment
  RETURN x * 2;
END;;
DELIMITER ;
CREATE DEFINER='definer'@'localhost' SQL SECURITY DEFINER VIEW v_ok AS SELECT id, twice(id) AS d FROM t;

USE hist;
CREATE TABLE versioned (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
INSERT INTO versioned VALUES (1, 1), (2, 1);
UPDATE versioned SET v = 2 WHERE id = 1;
UPDATE versioned SET v = 3 WHERE id = 1;
DELETE FROM versioned WHERE id = 2;
CREATE TABLE partial_versioned (id INT PRIMARY KEY, tracked INT, untracked INT WITHOUT SYSTEM VERSIONING)
  WITH SYSTEM VERSIONING;
INSERT INTO partial_versioned VALUES (1, 1, 1);
UPDATE partial_versioned SET tracked = 2;
CREATE TABLE plain (id INT PRIMARY KEY);
INSERT INTO plain VALUES (1);

USE seqs;
CREATE SEQUENCE s1 START WITH 10 INCREMENT BY 5 MINVALUE 10 MAXVALUE 30 CYCLE CACHE 3;
SELECT NEXTVAL(s1), NEXTVAL(s1), NEXTVAL(s1), NEXTVAL(s1), NEXTVAL(s1), NEXTVAL(s1);
CREATE SEQUENCE s2 NOCACHE;
SELECT NEXTVAL(s2);
CREATE TABLE uses_seq (id BIGINT PRIMARY KEY DEFAULT NEXTVAL(s2), v INT);
INSERT INTO uses_seq (v) VALUES (1), (2);

USE nums;
CREATE TABLE extremes (
  id INT PRIMARY KEY,
  f FLOAT, d DOUBLE, dec65 DECIMAL(65,30), b1 BIT(1), b64 BIT(64),
  ti TINYINT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED
);
INSERT INTO extremes VALUES
  (1, 16777216, 1.7976931348623157e308, 99999999999999999999999999999999999.999999999999999999999999999999,
   b'1', b'1111111111111111111111111111111111111111111111111111111111111111', 255, -9223372036854775808,
   18446744073709551615),
  (2, 1.2345677614212036, 2.2250738585072014e-308, -0.000000000000000000000000000001, b'0', b'0', 0,
   9223372036854775807, 0),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE checked (id INT PRIMARY KEY, qty INT);
INSERT INTO checked VALUES (1, -5);
SET SESSION check_constraint_checks = 0;
ALTER TABLE checked ADD CONSTRAINT qty_positive CHECK (qty > 0);
SET SESSION check_constraint_checks = 1;

USE xref;
CREATE TABLE child (id INT PRIMARY KEY, victim_id INT,
  FOREIGN KEY (victim_id) REFERENCES victim.rows_kept (id));
INSERT INTO child VALUES (1, 1);
CREATE DEFINER='definer'@'localhost' VIEW cross_view AS SELECT r.id, r.note FROM victim.rows_kept r;
CREATE DEFINER='definer'@'localhost' VIEW view_of_view AS SELECT id FROM cross_view;
CREATE DEFINER='definer'@'localhost' EVENT ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00'
  DISABLE COMMENT 'event comment' DO DELETE FROM child WHERE id < 0;
