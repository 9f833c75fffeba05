"""Depth for many images: ``python -m core batch`` on this machine or on a Ray cluster.

- :mod:`core.batch.inputs`: what the inputs are (files, folders, list files) and their output stems;
- :mod:`core.batch.outputs`: the files one input yields (``predict``'s, written by its writer);
- :mod:`core.batch.storage`: where outputs go (a local folder or a pyarrow filesystem), atomically;
- :mod:`core.batch.results`: one row per input, the results table, and what a re-run skips;
- :mod:`core.batch.work`: one input, bytes in, files and a row out (the same on both engines);
- :mod:`core.batch.weights`: a Ray worker's weights (its node's hub cache, else the driver's, checked);
- :mod:`core.batch.local`: the local engine (decoding and writing overlap inference);
- :mod:`core.batch.ray_engine`: the Ray Data engine (imports Ray only when it runs);
- :mod:`core.batch.job`: a whole job: inputs, skips, an engine, the table, the summary line.

Nothing here imports Ray at import time: only :func:`core.batch.ray_engine.import_ray` does.
"""
