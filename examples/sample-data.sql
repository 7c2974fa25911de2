-- Sample content for the demo and the tests: several databases, utf8mb4 text, BLOBs, NULLs,
-- a generated column, views, a trigger, a stored procedure and function, and an event.
-- Row counts come from MariaDB's built-in SEQUENCE engine so the file stays small.

CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE crm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE `audit-log` CHARACTER SET utf8mb4;

USE shop;
CREATE TABLE customers (
  id INT PRIMARY KEY AUTO_INCREMENT,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(200) NULL,
  city VARCHAR(60) NULL,
  created_at TIMESTAMP NOT NULL DEFAULT '2024-01-01 00:00:00'
) ENGINE=InnoDB;
INSERT INTO customers (name, email, city, created_at)
SELECT CONCAT(ELT(1 + seq % 6, 'Zoë', 'Łukasz', '山田 太郎', 'Søren', 'Анна', 'José 🚀'), ' #', seq),
       IF(seq % 7 = 0, NULL, CONCAT('user', seq, '@example.com')),
       ELT(1 + seq % 4, 'Zürich', 'Kraków', '東京', NULL),
       TIMESTAMP('2024-01-01') + INTERVAL seq MINUTE
FROM seq_1_to_5000;

CREATE TABLE products (
  sku CHAR(8) PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  price_cents INT NOT NULL,
  vat_rate DECIMAL(4,3) NOT NULL DEFAULT 0.200,
  price_with_vat DECIMAL(12,2) AS (ROUND(price_cents * (1 + vat_rate) / 100, 2)) STORED,
  attributes JSON NULL,
  thumbnail BLOB NULL
) ENGINE=InnoDB;
INSERT INTO products (sku, title, price_cents, attributes, thumbnail)
SELECT LPAD(seq, 8, '0'), CONCAT('Product ', seq, ' — «édition spéciale»'), seq * 137 % 100000,
       IF(seq % 3 = 0, NULL, JSON_OBJECT('color', ELT(1 + seq % 3, 'red', 'green', 'blue'), 'size', seq % 50)),
       IF(seq % 5 = 0, NULL, UNHEX(SHA2(CONCAT('img', seq), 512)))
FROM seq_1_to_2000;

CREATE TABLE orders (
  id BIGINT PRIMARY KEY AUTO_INCREMENT,
  customer_id INT NOT NULL,
  sku CHAR(8) NOT NULL,
  quantity SMALLINT NOT NULL,
  note TEXT NULL,
  status ENUM('new', 'paid', 'shipped', 'cancelled') NOT NULL DEFAULT 'new',
  KEY (customer_id), KEY (sku)
) ENGINE=InnoDB;
INSERT INTO orders (customer_id, sku, quantity, note, status)
SELECT 1 + seq % 5000, LPAD(1 + seq % 2000, 8, '0'), 1 + seq % 9,
       IF(seq % 4 = 0, NULL, REPEAT(CONCAT('note ', seq, ' ✓ '), 1 + seq % 20)),
       ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'cancelled')
FROM seq_1_to_20000;

CREATE TABLE order_audit (id INT PRIMARY KEY AUTO_INCREMENT, order_id BIGINT, changed_at TIMESTAMP NULL);
CREATE TRIGGER orders_after_update AFTER UPDATE ON orders
  FOR EACH ROW INSERT INTO order_audit (order_id, changed_at) VALUES (NEW.id, NULL);

CREATE VIEW paid_orders AS SELECT o.id, c.name, o.sku, o.quantity FROM orders o JOIN customers c ON c.id = o.customer_id
  WHERE o.status = 'paid';

DELIMITER //
CREATE PROCEDURE ship_order(IN p_id BIGINT)
BEGIN
  UPDATE orders SET status = 'shipped' WHERE id = p_id AND status = 'paid';
END //
CREATE FUNCTION order_total_cents(p_id BIGINT) RETURNS BIGINT DETERMINISTIC READS SQL DATA
BEGIN
  RETURN (SELECT o.quantity * p.price_cents FROM orders o JOIN products p ON p.sku = o.sku WHERE o.id = p_id);
END //
DELIMITER ;

CREATE EVENT purge_old_audit ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE
  DO DELETE FROM order_audit WHERE changed_at < NOW() - INTERVAL 90 DAY;

USE crm;
CREATE TABLE contacts (
  id INT PRIMARY KEY,
  display_name VARCHAR(120) CHARACTER SET utf8mb4 NOT NULL,
  avatar MEDIUMBLOB NULL,
  score DOUBLE NULL,
  tags SET('vip', 'lead', 'partner') NULL
) ENGINE=InnoDB;
INSERT INTO contacts
SELECT seq, CONCAT('Kontakt ', seq, ' 🙂'), IF(seq % 2 = 0, NULL, RANDOM_BYTES(1024)), IF(seq % 3 = 0, NULL, seq / 7),
       ELT(1 + seq % 4, 'vip', 'lead', 'vip,partner', NULL)
FROM seq_1_to_3000;
CREATE VIEW vip_contacts AS SELECT id, display_name FROM contacts WHERE FIND_IN_SET('vip', tags);

USE `audit-log`;
CREATE TABLE `events log` (id INT PRIMARY KEY AUTO_INCREMENT, payload LONGTEXT, at DATETIME(6) NULL) ENGINE=InnoDB;
INSERT INTO `events log` (payload, at) SELECT REPEAT('x', seq % 300), NULL FROM seq_1_to_1000;
CREATE TABLE plain_myisam (k INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM;
INSERT INTO plain_myisam VALUES (1, 'one'), (2, NULL);
