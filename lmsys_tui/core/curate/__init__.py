"""Curation (the `edit` group): analysts repair clusters, every change audited and undoable.

Modules: `frame` (one edit = one transaction + audit row), `membership` (move, merge, split,
delete), `labels` (rename, tag, flag), `rollup` (hierarchy counts), `snapshot` (rows kept for
undo), `undo`, `replay` (edits kept across a new summary pass or hierarchy), `chroma_sync`
(summary documents after an edit), `reads` (view-query, history, audit, orphaned,
select-bad-clusters), `options` (what the commands take).
"""
