"""The paper's future work, measured beside its four models (``python -m experiment.future``,
``make future``): ``study`` runs the parts, ``report`` writes their table; the parts' own
modules are ``fusion`` (two streams' scores), ``augment`` (training on the ten crops),
``finetune`` (CaffeNet's fc6/fc7 with the model) and ``pretrain`` (an LSTM autoencoder's
encoder as the start). Each part trains through the engine, ``experiment.train``."""
