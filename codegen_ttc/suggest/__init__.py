"""``codegen-ttc suggest``: a patch for failing tests, chosen like a solution.

Pure parts: ``edits`` (the search/replace format, parser, applier, diffs),
``junit`` (per-test outcomes), ``rank`` (scores, clusters, ranking), ``report``,
and the prompt in ``context``. I/O: ``workspace`` (the user's tree, read-only
until ``--apply``; copies), ``evaluate`` (test runs in the sandbox,
``codegen_ttc.execution.commands``), ``run`` (the whole pipeline).
"""
