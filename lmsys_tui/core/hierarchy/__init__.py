"""The hierarchy stage: clusters merged level by level into a tree (Anthropic's Clio method).

Modules: `plan` (level sizes, node ids, balanced neighbourhoods), `nodes` (the Node type, the
run and checkpoint rows, the tree written to cluster_hierarchies), `clio` (one LLM level:
propose, dedupe, assign, rename), `agglo` (the offline level: agglomerative clustering of
centroids), `shape` (level sizes from the data), `leaves` (the stage's inputs), `levels` (the
offline and LLM level loops and their checkpoint), `merge` (the stage that chains levels and
resumes), `estimate` (its dry run), `show` (reading a tree back).
Nothing heavy is imported at package level.
"""
