"""UCF-101 videos -> 10 frames -> BVLC CaffeNet FC7 codes in HDF5.

Not written yet: the CaffeNet port, pycaffe backend and extraction pipeline are separate issues.
The recurrent models in ``rnn_models`` take any (N, T, D) codes meanwhile.
"""
