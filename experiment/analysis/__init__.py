"""What the runs' predictions say: intervals and tests over UCF-101 groups and seeds
(``stats``), what a test set can detect (``power``), the results tables (``report``) and
figures (``plots``). It reads results; it trains nothing and imports no other part of
``experiment``."""
