"""What the ``hepwb`` command runs: notebooks in batch (``batch``), parameter scans (``scan``), the Dask
cluster they and the generation run on (``cluster``), each notebook's parameters and their check
(``parameters``), dataset generation (``generate``) and the results page (``results``).

Nothing in a notebook, and no other room of hepwb, imports ``hepwb.run``: it sits on top of them all.
"""
