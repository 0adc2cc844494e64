"""Studies over the whole pipeline: ``drift`` (each 2015-vs-today knob's cost on the demo set)
and ``rehearsal`` (``make train`` at UCF-101's scale on synthetic codes)."""
