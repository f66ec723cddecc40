"""The one read layer: what both doors (headless commands and the TUI) read from the store.

- `catalog`: what the store holds (datasets, runs, row counts) for `datasets`/`runs`/`status`
  and the runs screen;
- `runs`: one clustering run, its summary passes and hierarchies, the ONE rule for which
  summary pass titles a run, and the `View` (run + hierarchy + pass) the explorer shows;
- `tree`: a view's nodes (children, the node index, paths, counts rolled up to ancestors,
  the leaf clusters under a node) and the ONE title rule;
- `members`: the ONE keyset pager over a node's (or a run's, or the store's) queries, in id or
  distance order, with filters;
- `detail`: a node's detail (summary, keywords, breakdowns, central queries, provenance) and
  one query in full;
- `listing`: the JSON of `list-clusters`, `inspect` and `list`.

Everything reads through the stdlib `sqlite3` readers of `core/store/sql.py` (no SQLAlchemy
import), so listing commands and the TUI's first paint stay quick. This module imports nothing
so that importing one part does not import the others.
"""
