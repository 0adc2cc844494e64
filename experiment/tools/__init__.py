"""Tools around the study: the benches (``bench``, ``device_bench``, ``theano_step``),
prediction for a new video (``predict``), the demo's checks (``demo_bits``, ``readme_check``)."""
