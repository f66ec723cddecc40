-- index ix_cluster_edits_run_id on cluster_edits
CREATE INDEX ix_cluster_edits_run_id ON cluster_edits (run_id);

-- index ix_cluster_summaries_run_cluster on cluster_summaries
CREATE INDEX ix_cluster_summaries_run_cluster ON cluster_summaries (run_id, cluster_id);

-- index ix_clusters_run_id on clusters
CREATE INDEX ix_clusters_run_id ON clusters (run_id);

-- index ix_datasets_label on datasets
CREATE UNIQUE INDEX ix_datasets_label ON datasets (label);

-- index ix_hierarchy_parent on cluster_hierarchies
CREATE INDEX ix_hierarchy_parent ON cluster_hierarchies (hierarchy_run_id, parent_cluster_id);

-- index ix_hierarchy_runs_run_id on hierarchy_runs
CREATE INDEX ix_hierarchy_runs_run_id ON hierarchy_runs (run_id);

-- index ix_llm_calls_model_prompt on llm_calls
CREATE INDEX ix_llm_calls_model_prompt ON llm_calls (model, prompt_hash);

-- index ix_llm_calls_run_id on llm_calls
CREATE INDEX ix_llm_calls_run_id ON llm_calls (run_id);

-- index ix_queries_dataset_language on queries
CREATE INDEX ix_queries_dataset_language ON queries (dataset_id, language);

-- index ix_queries_dataset_model on queries
CREATE INDEX ix_queries_dataset_model ON queries (dataset_id, model);

-- index ix_queries_language on queries
CREATE INDEX ix_queries_language ON queries (language);

-- index ix_queries_model on queries
CREATE INDEX ix_queries_model ON queries (model);

-- index ix_queries_text_hash on queries
CREATE INDEX ix_queries_text_hash ON queries (text_hash);

-- index ix_query_clusters_query_id on query_clusters
CREATE INDEX ix_query_clusters_query_id ON query_clusters (query_id);

-- index ix_query_clusters_run_cluster on query_clusters
CREATE INDEX ix_query_clusters_run_cluster ON query_clusters (run_id, cluster_id);

-- index ix_query_clusters_run_cluster_distance on query_clusters
CREATE INDEX ix_query_clusters_run_cluster_distance ON query_clusters (run_id, cluster_id, distance, query_id);

-- index ix_summary_runs_alias on summary_runs
CREATE INDEX ix_summary_runs_alias ON summary_runs (alias);

-- index ix_summary_runs_run_id on summary_runs
CREATE INDEX ix_summary_runs_run_id ON summary_runs (run_id);

-- index sqlite_autoindex_cluster_hierarchies_1 on cluster_hierarchies
(implicit);

-- index sqlite_autoindex_cluster_metadata_1 on cluster_metadata
(implicit);

-- index sqlite_autoindex_cluster_summaries_1 on cluster_summaries
(implicit);

-- index sqlite_autoindex_clustering_runs_1 on clustering_runs
(implicit);

-- index sqlite_autoindex_clusters_1 on clusters
(implicit);

-- index sqlite_autoindex_hierarchy_runs_1 on hierarchy_runs
(implicit);

-- index sqlite_autoindex_orphaned_queries_1 on orphaned_queries
(implicit);

-- index sqlite_autoindex_queries_1 on queries
(implicit);

-- index sqlite_autoindex_query_clusters_1 on query_clusters
(implicit);

-- index sqlite_autoindex_run_layouts_1 on run_layouts
(implicit);

-- index sqlite_autoindex_schema_info_1 on schema_info
(implicit);

-- index sqlite_autoindex_summary_runs_1 on summary_runs
(implicit);

-- table chroma_pending on chroma_pending
CREATE TABLE chroma_pending (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	clusters JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

-- table cluster_edits on cluster_edits
CREATE TABLE cluster_edits (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	cluster_id INTEGER, 
	edit_type VARCHAR NOT NULL, 
	editor VARCHAR NOT NULL, 
	old_value JSON, 
	new_value JSON, 
	reason VARCHAR, 
	timestamp DATETIME NOT NULL, 
	snapshot JSON, 
	undone_by INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id)
);

-- table cluster_hierarchies on cluster_hierarchies
CREATE TABLE cluster_hierarchies (
	id INTEGER NOT NULL, 
	hierarchy_run_id VARCHAR NOT NULL, 
	run_id VARCHAR NOT NULL, 
	cluster_id INTEGER NOT NULL, 
	parent_cluster_id INTEGER, 
	level INTEGER NOT NULL, 
	children_ids JSON NOT NULL, 
	title VARCHAR, 
	description VARCHAR, 
	query_count INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_hierarchy_node UNIQUE (hierarchy_run_id, cluster_id), 
	FOREIGN KEY(hierarchy_run_id) REFERENCES hierarchy_runs (hierarchy_run_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id)
);

-- table cluster_metadata on cluster_metadata
CREATE TABLE cluster_metadata (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	cluster_id INTEGER NOT NULL, 
	coherence_score INTEGER, 
	quality VARCHAR, 
	flags JSON NOT NULL, 
	notes VARCHAR, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_cluster_metadata UNIQUE (run_id, cluster_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id)
);

-- table cluster_summaries on cluster_summaries
CREATE TABLE cluster_summaries (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	cluster_id INTEGER NOT NULL, 
	summary_run_id VARCHAR NOT NULL, 
	alias VARCHAR, 
	title VARCHAR, 
	description VARCHAR, 
	summary VARCHAR, 
	coherence INTEGER, 
	num_queries INTEGER, 
	representative_queries JSON NOT NULL, 
	model VARCHAR, 
	parameters JSON NOT NULL, 
	status VARCHAR NOT NULL, 
	error VARCHAR, 
	generated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_cluster_summaries_pass_cluster UNIQUE (summary_run_id, cluster_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id), 
	FOREIGN KEY(summary_run_id) REFERENCES summary_runs (summary_run_id)
);

-- table clustering_runs on clustering_runs
CREATE TABLE clustering_runs (
	run_id VARCHAR NOT NULL, 
	algorithm VARCHAR NOT NULL, 
	num_clusters INTEGER, 
	dataset_id INTEGER, 
	embedding_provider VARCHAR, 
	embedding_model VARCHAR, 
	embedding_dim INTEGER, 
	parameters JSON NOT NULL, 
	metrics JSON NOT NULL, 
	description VARCHAR, 
	status VARCHAR NOT NULL, 
	error VARCHAR, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (run_id), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (id)
);

-- table clusters on clusters
CREATE TABLE clusters (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	cluster_id INTEGER NOT NULL, 
	size INTEGER NOT NULL, 
	centroid BLOB, 
	keywords JSON NOT NULL, 
	metrics JSON NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_clusters_run_cluster UNIQUE (run_id, cluster_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id)
);

-- table datasets on datasets
CREATE TABLE datasets (
	id INTEGER NOT NULL, 
	label VARCHAR NOT NULL, 
	source VARCHAR NOT NULL, 
	source_ref VARCHAR, 
	status VARCHAR NOT NULL, 
	error VARCHAR, 
	query_count INTEGER NOT NULL, 
	parameters JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

-- table hierarchy_runs on hierarchy_runs
CREATE TABLE hierarchy_runs (
	hierarchy_run_id VARCHAR NOT NULL, 
	run_id VARCHAR NOT NULL, 
	summary_run_id VARCHAR, 
	model VARCHAR, 
	parameters JSON NOT NULL, 
	checkpoint JSON NOT NULL, 
	status VARCHAR NOT NULL, 
	error VARCHAR, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (hierarchy_run_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id), 
	FOREIGN KEY(summary_run_id) REFERENCES summary_runs (summary_run_id)
);

-- table index_backlog on index_backlog
CREATE TABLE index_backlog (id INTEGER NOT NULL, from_id INTEGER NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id));

-- table llm_calls on llm_calls
CREATE TABLE llm_calls (
	id INTEGER NOT NULL, 
	stage VARCHAR NOT NULL, 
	run_id VARCHAR, 
	provider VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	prompt_hash VARCHAR NOT NULL, 
	tokens_in INTEGER, 
	tokens_out INTEGER, 
	latency_ms FLOAT, 
	cost_usd FLOAT, 
	status VARCHAR NOT NULL, 
	response JSON, 
	error VARCHAR, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

-- table orphaned_queries on orphaned_queries
CREATE TABLE orphaned_queries (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	query_id INTEGER NOT NULL, 
	original_cluster_id INTEGER, 
	reason VARCHAR, 
	orphaned_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_orphaned_run_query UNIQUE (run_id, query_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id), 
	FOREIGN KEY(query_id) REFERENCES queries (id)
);

-- table queries on queries
CREATE TABLE queries (
	id INTEGER NOT NULL, 
	dataset_id INTEGER NOT NULL, 
	conversation_id VARCHAR NOT NULL, 
	query_text VARCHAR NOT NULL, 
	text_hash VARCHAR NOT NULL, 
	model VARCHAR, 
	language VARCHAR, 
	turn_count INTEGER, 
	redacted BOOLEAN, 
	moderation_flagged BOOLEAN, 
	timestamp DATETIME, 
	extra_metadata JSON, 
	created_at DATETIME NOT NULL, 
	label VARCHAR, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_queries_dataset_conversation UNIQUE (dataset_id, conversation_id), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (id)
);

-- table queries_fts on queries_fts
CREATE VIRTUAL TABLE queries_fts USING fts5(query_text, content='queries', content_rowid='id', tokenize='unicode61 remove_diacritics 2');

-- table queries_fts_config on queries_fts_config
CREATE TABLE 'queries_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table queries_fts_data on queries_fts_data
CREATE TABLE 'queries_fts_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table queries_fts_docsize on queries_fts_docsize
CREATE TABLE 'queries_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);

-- table queries_fts_idx on queries_fts_idx
CREATE TABLE 'queries_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table query_clusters on query_clusters
CREATE TABLE query_clusters (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	query_id INTEGER NOT NULL, 
	cluster_id INTEGER NOT NULL, 
	confidence_score FLOAT, 
	distance FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_query_clusters_run_query UNIQUE (run_id, query_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id), 
	FOREIGN KEY(query_id) REFERENCES queries (id)
);

-- table run_layouts on run_layouts
CREATE TABLE run_layouts (
	id INTEGER NOT NULL, 
	run_id VARCHAR NOT NULL, 
	method VARCHAR NOT NULL, 
	members INTEGER NOT NULL, 
	points INTEGER NOT NULL, 
	query_ids BLOB NOT NULL, 
	coords BLOB NOT NULL, 
	parameters JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_run_layouts_run_method UNIQUE (run_id, method), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id)
);

-- table schema_info on schema_info
CREATE TABLE schema_info (
	"key" VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	PRIMARY KEY ("key")
);

-- table summary_runs on summary_runs
CREATE TABLE summary_runs (
	summary_run_id VARCHAR NOT NULL, 
	run_id VARCHAR NOT NULL, 
	alias VARCHAR, 
	model VARCHAR NOT NULL, 
	parameters JSON NOT NULL, 
	status VARCHAR NOT NULL, 
	error VARCHAR, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (summary_run_id), 
	FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id)
);

-- trigger queries_fts_ad on queries
CREATE TRIGGER queries_fts_ad AFTER DELETE ON queries WHEN old.id < (SELECT IFNULL(MIN(from_id), 9223372036854775807) FROM index_backlog) BEGIN INSERT INTO queries_fts(queries_fts, rowid, query_text) VALUES ('delete', old.id, old.query_text); END;

-- trigger queries_fts_ai on queries
CREATE TRIGGER queries_fts_ai AFTER INSERT ON queries WHEN new.id < (SELECT IFNULL(MIN(from_id), 9223372036854775807) FROM index_backlog) BEGIN INSERT INTO queries_fts(rowid, query_text) VALUES (new.id, new.query_text); END;

-- trigger queries_fts_au on queries
CREATE TRIGGER queries_fts_au AFTER UPDATE OF query_text ON queries WHEN old.id < (SELECT IFNULL(MIN(from_id), 9223372036854775807) FROM index_backlog) BEGIN INSERT INTO queries_fts(queries_fts, rowid, query_text) VALUES ('delete', old.id, old.query_text); INSERT INTO queries_fts(rowid, query_text) VALUES (new.id, new.query_text); END;
