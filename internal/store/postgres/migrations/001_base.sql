-- sluice's generic entity store (see internal/store/sqlstore).
CREATE TABLE IF NOT EXISTS entities (
	entity TEXT   NOT NULL,
	id     TEXT   NOT NULL,
	seq    BIGINT NOT NULL,
	data   TEXT   NOT NULL,
	PRIMARY KEY (entity, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS entities_entity_seq ON entities (entity, seq);

CREATE TABLE IF NOT EXISTS uniques (
	entity TEXT NOT NULL,
	field  TEXT NOT NULL,
	value  TEXT NOT NULL,
	id     TEXT NOT NULL,
	PRIMARY KEY (entity, field, value)
);
CREATE INDEX IF NOT EXISTS uniques_id ON uniques (entity, id);

CREATE TABLE IF NOT EXISTS refs (
	child_entity  TEXT NOT NULL,
	child_id      TEXT NOT NULL,
	field         TEXT NOT NULL,
	parent_entity TEXT NOT NULL,
	parent_id     TEXT NOT NULL,
	PRIMARY KEY (child_entity, child_id, field)
);
CREATE INDEX IF NOT EXISTS refs_parent ON refs (parent_entity, parent_id);

CREATE TABLE IF NOT EXISTS tags (
	entity TEXT NOT NULL,
	id     TEXT NOT NULL,
	tag    TEXT NOT NULL,
	PRIMARY KEY (entity, id, tag)
);
CREATE INDEX IF NOT EXISTS tags_tag ON tags (entity, tag);

CREATE TABLE IF NOT EXISTS changes (
	pos     BIGSERIAL PRIMARY KEY,
	version BIGINT   NOT NULL,
	op      SMALLINT NOT NULL,
	entity  TEXT     NOT NULL,
	id      TEXT     NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_version ON changes (version);

CREATE TABLE IF NOT EXISTS meta (
	k TEXT PRIMARY KEY,
	v BIGINT NOT NULL
);
INSERT INTO meta (k, v) VALUES ('version', 0), ('floor', 0) ON CONFLICT DO NOTHING;
