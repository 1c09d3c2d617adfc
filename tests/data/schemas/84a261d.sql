-- The tables create_schema made at commit 84a261d, before migrations (revision 0002):
-- that commit's bot/models.py, SQLModel.metadata.create_all on SQLite, as SQLite keeps them.

CREATE TABLE paper (
	id INTEGER NOT NULL,
	title VARCHAR NOT NULL,
	title_key VARCHAR NOT NULL,
	abstract VARCHAR NOT NULL,
	authors JSON NOT NULL,
	author_count INTEGER,
	organization VARCHAR,
	paper_date DATE,
	upvotes INTEGER,
	code_urls JSON NOT NULL,
	project_urls JSON NOT NULL,
	arxiv_id VARCHAR,
	url VARCHAR,
	pdf_url VARCHAR,
	categories JSON NOT NULL,
	first_seen_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (arxiv_id)
);

CREATE INDEX ix_paper_title_key ON paper (title_key);

CREATE TABLE importedfile (
	id INTEGER NOT NULL,
	path VARCHAR NOT NULL,
	content_hash VARCHAR NOT NULL,
	size INTEGER NOT NULL,
	mtime_ns INTEGER NOT NULL,
	kind VARCHAR,
	status VARCHAR NOT NULL,
	error VARCHAR,
	warnings JSON NOT NULL,
	papers_parsed INTEGER NOT NULL,
	papers_new INTEGER NOT NULL,
	papers_updated INTEGER NOT NULL,
	imported_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_importedfile_content_hash ON importedfile (content_hash);

CREATE INDEX ix_importedfile_path ON importedfile (path);

CREATE TABLE feed (
	id INTEGER NOT NULL,
	url VARCHAR NOT NULL,
	name VARCHAR,
	etag VARCHAR,
	last_modified VARCHAR,
	content_hash VARCHAR,
	kind VARCHAR,
	last_fetched_at DATETIME,
	last_status VARCHAR,
	last_error VARCHAR,
	last_new INTEGER NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (url)
);

CREATE TABLE subscriber (
	id INTEGER NOT NULL,
	email VARCHAR NOT NULL,
	email_key VARCHAR NOT NULL,
	cadence VARCHAR NOT NULL,
	format VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	unsubscribed_at DATETIME,
	timezone VARCHAR,
	PRIMARY KEY (id),
	UNIQUE (email_key)
);

CREATE TABLE run (
	id INTEGER NOT NULL,
	kind VARCHAR NOT NULL,
	started_at DATETIME NOT NULL,
	finished_at DATETIME,
	status VARCHAR NOT NULL,
	counts JSON NOT NULL,
	details JSON NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_run_kind ON run (kind);

CREATE TABLE joblock (
	name VARCHAR NOT NULL,
	holder VARCHAR NOT NULL,
	acquired_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE appsecret (
	name VARCHAR NOT NULL,
	value VARCHAR NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE jobstate (
	name VARCHAR NOT NULL,
	last_started_at DATETIME,
	last_finished_at DATETIME,
	last_success_at DATETIME,
	last_outcome VARCHAR,
	last_error VARCHAR,
	next_run_at DATETIME,
	PRIMARY KEY (name)
);

CREATE TABLE heartbeat (
	name VARCHAR NOT NULL,
	holder VARCHAR NOT NULL,
	started_at DATETIME NOT NULL,
	beat_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE sighting (
	id INTEGER NOT NULL,
	paper_id INTEGER NOT NULL,
	imported_file_id INTEGER,
	feed_id INTEGER,
	page_date DATE,
	upvotes INTEGER,
	seen_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(paper_id) REFERENCES paper (id) ON DELETE CASCADE,
	FOREIGN KEY(imported_file_id) REFERENCES importedfile (id),
	FOREIGN KEY(feed_id) REFERENCES feed (id)
);

CREATE INDEX ix_sighting_paper_feed ON sighting (paper_id, feed_id);

CREATE TABLE subscription (
	id INTEGER NOT NULL,
	subscriber_id INTEGER NOT NULL,
	name VARCHAR NOT NULL,
	keywords JSON NOT NULL,
	exclusions JSON NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (subscriber_id, name),
	FOREIGN KEY(subscriber_id) REFERENCES subscriber (id) ON DELETE CASCADE
);

CREATE INDEX ix_subscription_subscriber_id ON subscription (subscriber_id);

CREATE TABLE delivery (
	id INTEGER NOT NULL,
	run_id INTEGER,
	subscriber_id INTEGER NOT NULL,
	channel VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	reason VARCHAR,
	message_id VARCHAR,
	attempts INTEGER NOT NULL,
	papers INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES run (id),
	FOREIGN KEY(subscriber_id) REFERENCES subscriber (id)
);

CREATE INDEX ix_delivery_subscriber_id ON delivery (subscriber_id);

CREATE INDEX ix_delivery_run_id ON delivery (run_id);

CREATE TABLE sentpaper (
	subscriber_id INTEGER NOT NULL,
	paper_id INTEGER NOT NULL,
	delivery_id INTEGER NOT NULL,
	sent_at DATETIME NOT NULL,
	PRIMARY KEY (subscriber_id, paper_id),
	FOREIGN KEY(subscriber_id) REFERENCES subscriber (id),
	FOREIGN KEY(paper_id) REFERENCES paper (id),
	FOREIGN KEY(delivery_id) REFERENCES delivery (id)
);

