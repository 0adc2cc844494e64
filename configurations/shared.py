"""The knobs every configuration shares, as values: the code that uses a knob reads it here.

``EXTRACTION`` (frames, crop, motion stream, ten views), ``TRAINING`` (the main table's protocol)
and ``FUTURE`` (``make future``) hold one value per knob; ``configurations.KNOBS`` writes its
cells from them. Three are the models' own defaults, set in ``reference`` and only read here: the
tconv's width, the Average model's dropout, CaffeNet's fc6/fc7 dropout.
``tests/configurations/test_knobs.py`` fails when code anywhere else sets one of these values.
"""
from dataclasses import dataclass

from reference.architecture import AVERAGE_DROPOUT, TCONV_OPTIONS
from reference.finetune import DROPOUT as CAFFENET_DROPOUT


@dataclass(frozen=True)
class Extraction:
    """How a video becomes codes, beyond the knobs a configuration varies (caffe_extract)."""

    n_frames: int           # frames per video ...
    span: float             # ... evenly over the first ``span`` seconds: t_i = i span / n
    crop: tuple             # CaffeNet's input (H, W): the whole frame resized to it
    farneback: dict         # cv2.calcOpticalFlowFarneback's parameters (caffe_extract/flow.py)
    flow_offset: float      # a flow image's channels: offset + scale u, offset + scale v, ...
    flow_scale: float       # ... scale |(u, v)|
    view_dims: tuple        # the ten views: the frame resized to this (H, W), then crops
    n_views: int            # 4 corners and the centre, and their mirrors


@dataclass(frozen=True)
class Training:
    """The main table's protocol (experiment.train), one field per knob."""

    lrs: tuple              # learning-rate grid
    hidden: tuple           # hidden-size grid
    seeds: int              # seeds of the chosen setting
    epochs: int             # at most
    patience: int           # epochs without a better validation accuracy before stopping
    batch_size: int
    momentum: float         # Nesterov
    weight_decay: float
    dropout: float          # the Average model's hidden layer (the recurrent models: none)
    val_groups: int         # train-list groups held out for validation
    split: int              # the official split
    tconv_width: int        # the temporal convolution's kernel width (a model option)

    def runs(self):
        """A model's runs in one split: each setting of the grid (the first seed), then the
        chosen setting's other seeds."""
        return len(self.lrs) * len(self.hidden) + self.seeds - 1


@dataclass(frozen=True)
class FutureWork:
    """The paper's future work (``make future``): the study's settings, and each part's knobs."""

    hidden: tuple           # the study's grid and seeds (the demo's main table's)
    lrs: tuple
    epochs: int
    patience: int           # 0: no early stopping
    seeds: int
    reference: str          # the paper's best model, every row compared with it
    flow_average_lrs: tuple     # the flow stream's Average model also searches these
    fusion_weights: tuple       # the learnt fusion weight's grid
    finetune_epochs: int
    finetune_fc_lr_scale: float     # fc6/fc7's learning rate / the head's
    finetune_fc_dropout: float      # drop6 and drop7 (CaffeNet's train net)
    pretrain_lr: float
    pretrain_epochs: int
    pretrain_split: int         # k: the autoencoder's encoder reads x_1..x_k
    label_fractions: tuple      # the learning curve's fractions of the training labels


EXTRACTION = Extraction(
    n_frames=10, span=2.0, crop=(227, 227),
    farneback={"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
               "poly_sigma": 1.2, "flags": 0},     # OpenCV's dense optical flow example
    flow_offset=128.0, flow_scale=16.0, view_dims=(256, 256), n_views=10)

TRAINING = Training(lrs=(0.003, 0.001), hidden=(512,), seeds=3, epochs=80, patience=25,
                    batch_size=64, momentum=0.9, weight_decay=0.0, dropout=AVERAGE_DROPOUT,
                    val_groups=3, split=1, tconv_width=TCONV_OPTIONS["width"])

FUTURE = FutureWork(
    hidden=(128,), lrs=(0.003,), epochs=100, patience=0, seeds=3, reference="birnn",
    flow_average_lrs=(0.003, 0.001, 0.0003, 0.0001),
    fusion_weights=tuple(round(i / 20, 2) for i in range(21)),     # 0, 0.05, ..., 1
    finetune_epochs=2, finetune_fc_lr_scale=0.1, finetune_fc_dropout=CAFFENET_DROPOUT,
    pretrain_lr=0.0003, pretrain_epochs=20, pretrain_split=5,
    label_fractions=(0.1, 0.25, 0.5, 1.0))
