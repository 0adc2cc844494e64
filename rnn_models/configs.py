"""Named configurations: every knob that the 2015 stack fixed, set once, in one place.

    config = configs.get("paper")       # the default of `make demo`, `make train`, the CLIs
    config = configs.get("modern")      # today's libraries: `--config modern`, `CONFIG=modern`

``paper`` is what Giel & Diaz ran in 2015: BVLC Caffe with the caffe.io of its day, Theano on a
GPU (float32) and craffel's recurrent layers as released in Lasagne 0.1, with Lasagne 0.1's
quirks (the LSTM output gate adds its peephole after the sigmoid; ``rectify``'s gradient at 0 is
0.5). ``modern`` is what a user of today's libraries gets without thinking: Graves' output
gate, ``torch.relu`` (gradient 0 at 0), and today's caffe.io, whose skimage anti-aliases when it
shrinks a frame. `make drift` measures what each difference costs.

``KNOBS`` is the table the README prints (``python -m rnn_models.configs`` writes it): each
knob's 2015 value, where that value comes from, and its ``modern`` value.
"""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Configuration:
    """One era's setting of every knob (extraction and training)."""

    name: str
    # -- extraction (caffe_extract)
    anti_aliasing: bool          # caffe.io.resize_image's skimage call
    mean: str                    # "channel": ImageNet mean per channel; "pixel": per pixel
    decoder: str                 # frames decoded with PyAV, moviepy's frame rule (equal frames)
    # -- models and training (rnn_models)
    lasagne_output_gate: bool    # LSTM: o_t = sigmoid(...) + w_co * c_t (Lasagne 0.1)
    peepholes: bool              # LSTM: w_ci, w_cf, w_co (Lasagne's default)
    relu_grad_at_zero: float     # 0.5: Lasagne's rectify (x + |x|) / 2; 0.0: torch.relu
    dtype: str                   # training precision
    init: str                    # initial values

    def extraction(self):
        """Keyword arguments of ``caffe_extract.pipeline.ExtractConfig`` for this era."""
        return {"anti_aliasing": self.anti_aliasing, "mean": self.mean, "decoder": self.decoder}

    def model_options(self, model):
        """The options of ``rnn_models.build(model, ...)`` that this era fixes."""
        from reference.architecture import default_options
        values = {"lasagne_output_gate": self.lasagne_output_gate, "peepholes": self.peepholes,
                  "relu_grad_at_zero": self.relu_grad_at_zero}
        return {k: values[k] for k in default_options(model)}

    def as_dict(self):
        return asdict(self)


PAPER = Configuration(name="paper", anti_aliasing=False, mean="channel", decoder="pyav",
                      lasagne_output_gate=True, peepholes=True, relu_grad_at_zero=0.5,
                      dtype="float32", init="lasagne-0.1")
MODERN = Configuration(name="modern", anti_aliasing=True, mean="channel", decoder="pyav",
                       lasagne_output_gate=False, peepholes=True, relu_grad_at_zero=0.0,
                       dtype="float32", init="lasagne-0.1")
CONFIGS = {c.name: c for c in (PAPER, MODERN)}
DEFAULT = "paper"

#: (knob, field or None, 2015 value, source of the 2015 value, modern value) for the README.
KNOBS = (
    ("frames", None, "10 at t_i = i x 0.2 s, i = 0..9", "the paper (Data Processing)", "same"),
    ("frame at time t", None, "frame int(fps t + 1e-5); short clips repeat their last frame",
     "moviepy's `get_frame` (the paper's era decoded with it); short clips: the paper does not "
     "say, our choice", "same"),
    ("decoder", "decoder", "PyAV, giving moviepy's frames (tested equal)",
     "the paper does not say: our choice", "same"),
    ("crop", None, "none: the full frame resized to 227 x 227", "the paper (Future Work)", "same"),
    ("resize", "anti_aliasing", "bilinear, no anti-aliasing",
     "caffe.io.resize_image calls skimage's resize(order=1); skimage of 2015 did not "
     "anti-alias", "bilinear with anti-aliasing (today's skimage default when shrinking)"),
    ("ImageNet mean", "mean", "per channel (B 104.0, G 116.7, R 122.7)",
     "the paper does not say: our choice (Caffe's classification example)", "same"),
    ("CNN and layer", None, "BVLC CaffeNet, FC7 after its in-place ReLU",
     "the paper (Data Processing); post-ReLU: pycaffe's in-place relu7, our reading", "same"),
    ("LSTM output gate", "lasagne_output_gate", "o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + "
     "b_o_gate) + w_co c_t", "Lasagne 0.1's recurrent.py (fixed after 0.1, Lasagne PR #449)",
     "o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + w_co c_t + b_o_gate) (Graves 2013)"),
    ("LSTM peepholes", "peepholes", "yes (w_ci, w_cf, w_co)", "Lasagne 0.1's LSTMLayer default",
     "same"),
    ("ReLU gradient at 0", "relu_grad_at_zero", "0.5", "Lasagne 0.1's rectify = (x + abs(x)) / 2",
     "0 (torch.relu)"),
    ("training precision", "dtype", "float32",
     "Theano's GPU backend of 2015 computed in float32; the paper trained on a GPU", "same"),
    ("initial values", "init", "Lasagne 0.1 defaults (U(+-0.01), N(0, 0.1), Glorot, zero biases)",
     "Lasagne 0.1's source", "same"),
    ("optimiser", None, "SGD, Nesterov momentum 0.9, batch 64",
     "the paper does not say: our choice (lasagne.updates.nesterov_momentum)", "same"),
    ("hyperparameters", None, "lr in {0.003, 0.001}, hidden 512, <= 80 epochs, early stop 25",
     "the paper does not say: our choice", "same"),
    ("validation set", None, "3 train-list groups held out", "the paper does not say: our choice",
     "same"),
)


def get(name):
    """The configuration called ``name``; a clear error naming the ones there are."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}: choose one of "
                         f"{', '.join(CONFIGS)}") from None


def markdown_table():
    """The README's table of knobs: 2015 value, its source, the modern value."""
    lines = ["| knob | `paper` (2015) | source of the 2015 value | `modern` |",
             "| --- | --- | --- | --- |"]
    for knob, _, paper, source, modern in KNOBS:
        lines.append(f"| {knob} | {paper} | {source} | {modern} |")
    return "\n".join(lines)


def model_label(model, config):
    """The name a results row carries: the paper's name only where the model is the paper's.

    Under ``paper`` the four models are the paper's (the LSTM names its Lasagne 0.1 gate, so
    that nobody mistakes it for Graves'); under another configuration the row says what differs.
    """
    from .report import NAMES
    name = NAMES.get(model, model)
    options = config.model_options(model)
    notes = []
    if "lasagne_output_gate" in options:
        notes.append("Lasagne 0.1 output gate" if options["lasagne_output_gate"]
                     else "Graves' output gate")
        if not options["peepholes"]:
            notes.append("no peepholes")
    if options.get("relu_grad_at_zero", 0.5) != 0.5:
        notes.append("ReLU'(0) = 0")
    if config.dtype != "float32":
        notes.append(config.dtype)
    return f"{name} ({', '.join(notes)})" if notes else name


if __name__ == "__main__":
    print(markdown_table())
