"""Named configurations: every knob that decides a number, set once, in one place.

    config = configurations.get("paper")         # the default of make, both CLIs and build()
    config = configurations.get("nntools-2015")  # craffel's nntools code of the paper's weeks
    config = configurations.get("lasagne-0.1")   # the first Lasagne release (the Theano oracle's)
    config = configurations.get("modern")        # today's libraries

``paper`` follows the paper's text where it speaks and the nntools code of its weeks where it
is silent; docs/faithfulness.md says what each configuration is and where it comes from.
``KNOBS`` is the table the docs show (``python -m configurations`` prints it), with each
value's source: a file at a commit, a section of the paper, or "our choice" with the reason.
`make drift` measures what each difference costs.

Words, one per idea:

- **knob**: one choice that decides a number (the RNN step, the crop); a row of ``KNOBS``.
- **configuration**: a named set of the knobs that differ between stacks (``Configuration``,
  ``CONFIGS``, ``get(name)``); a run records its configuration by name.
- **shared knobs**: those every configuration shares, values in ``configurations.shared``
  (``EXTRACTION``, ``TRAINING``, ``FUTURE``) that the code and the table both read.
- a run's **settings**: what one run was made with, a configuration's name among them
  (``experiment.train.RunSettings``, ``caffe_extract``'s ``ExtractSettings``).
"""
from dataclasses import asdict, dataclass, replace

from .shared import EXTRACTION, FUTURE, TRAINING

#: The models' names in tables (the paper's names for its four).
NAMES = {"average": "Average", "rnn": "RNN", "lstm": "LSTM", "birnn": "Bidirectional RNN",
         "bilstm": "Bidirectional LSTM", "rnn2": "2-layer RNN", "tconv": "Temporal convolution"}

#: Where the 2015 values come from (the KNOBS table cites these by key).
NNTOOLS = "nntools: `lasagne/layers/recurrent.py` at fce361f (2015-03-18)"
NNTOOLS_INIT = "nntools: `lasagne/init.py` at b237390^ (2015-03-28, what the fork ran in March)"
LASAGNE_01 = "Lasagne 0.1: `lasagne/layers/recurrent.py` at v0.1 (2015-08-13)"


@dataclass(frozen=True)
class Configuration:
    """One setting of every knob (extraction, models, training)."""

    name: str
    # -- extraction (caffe_extract)
    anti_aliasing: bool          # caffe.io.resize_image's skimage call
    mean: str                    # "channel": ImageNet mean per channel; "pixel": per pixel
    decoder: str                 # frames decoded with PyAV, moviepy's frame rule (equal frames)
    # -- models (rnn_models.build)
    rnn_step: str                # "equation": relu(W_ih x + W_hh h + b); "nntools": relu(W_ih x + b) + relu(W_hh h)
    learn_init: bool             # a backward RNN layer learns its initial state h_{T+1}
    lasagne_output_gate: bool    # LSTM: o_t = sigmoid(...) + w_co * c_t (Lasagne 0.1)
    peepholes: bool              # LSTM: w_ci, w_cf, w_co (Lasagne's default)
    relu_grad_at_zero: float     # 0.5: Lasagne's rectify (x + |x|) / 2; 0.0: torch.relu
    init: str                    # initial values: "nntools-2015" or "lasagne-0.1"
    # -- training (experiment.train)
    dtype: str                   # training precision
    loss: str                    # "averaged": -log p[y], p the time-averaged softmax; "per-step"

    def extraction(self):
        """Keyword arguments of ``caffe_extract.pipeline.ExtractSettings`` for this configuration."""
        return {"anti_aliasing": self.anti_aliasing, "mean": self.mean, "decoder": self.decoder}

    def model_options(self, model):
        """The options of ``rnn_models.build(model, ...)`` under this configuration: the fields
        of the same names, and the model's default for an option that no configuration varies
        (the temporal convolution's ``width``, a shared knob of ``KNOBS``)."""
        from reference.architecture import default_options
        return {k: getattr(self, k, default) for k, default in default_options(model).items()}

    def as_dict(self):
        return asdict(self)


PAPER = Configuration(name="paper", anti_aliasing=False, mean="channel", decoder="pyav",
                      rnn_step="equation", learn_init=True, lasagne_output_gate=True,
                      peepholes=True, relu_grad_at_zero=0.5, init="nntools-2015", dtype="float32",
                      loss="averaged")
#: The others, by what they change of ``paper``.
NNTOOLS_2015 = replace(PAPER, name="nntools-2015", rnn_step="nntools")
LASAGNE_0_1 = replace(PAPER, name="lasagne-0.1", learn_init=False, init="lasagne-0.1")
MODERN = replace(PAPER, name="modern", anti_aliasing=True, learn_init=False,
                 lasagne_output_gate=False, relu_grad_at_zero=0.0, init="lasagne-0.1")
CONFIGS = {c.name: c for c in (PAPER, NNTOOLS_2015, LASAGNE_0_1, MODERN)}
DEFAULT = "paper"


@dataclass(frozen=True)
class Knob:
    """A row of the knob table. ``field``: the Configuration field it shows (None: a knob every
    configuration shares, ``shared`` its cell, written from ``configurations.shared``'s
    values). ``values``: how a field's value reads. ``decided_by``: for ``paper``, "the
    paper" (its text speaks) or "nntools" (the text is silent, the code of its weeks decides)
    or "our choice" (neither says). ``source``: where the 2015 values come from."""

    knob: str
    field: str
    values: dict
    decided_by: str
    source: str
    shared: str = ""


E, TR, FW = EXTRACTION, TRAINING, FUTURE


def _nums(values, sep=", "):
    """Numbers as the table writes them: 0.003, 512, 0.0001 (``%g``)."""
    return sep.join(f"{v:g}" for v in values)


def _or_none(value):
    return f"{value:g}" if value else "none"


def _dims(dims):
    return " x ".join(map(str, dims))


RNN_STEP = {"equation": "h_t = relu(W_ih x_t + W_hh h_{t-1} + b_h)",
            "nntools": "h_t = relu(W_ih x_t + b_h) + relu(W_hh h_{t-1})"}
INIT = {"nntools-2015": "RNN W Glorot U(+-sqrt(6/(fan_in+fan_out))); LSTM W and biases N(0, 0.1)",
        "lasagne-0.1": "RNN W U(+-0.01); LSTM W N(0, 0.1), biases 0"}

KNOBS = (
    Knob("frames", None, {}, "the paper",
         "the paper (Data Processing: \"10 frames evenly distributed over the first 2 seconds\")",
         shared=f"{E.n_frames} at t_i = i x {E.span / E.n_frames:g} s, i = 0..{E.n_frames - 1}"),
    Knob("frame at time t", None, {}, "our choice",
         "the paper names no decoder: our choice, moviepy's `get_frame` rule (a common decoder "
         "then); short clips repeat their last frame (our choice)",
         shared="frame int(fps t + 1e-5)"),
    Knob("decoder", "decoder", {"pyav": "PyAV (frames equal to moviepy's, tested)"}, "our choice",
         "the paper does not say: our choice (PyAV is 5x faster than moviepy, same frames)"),
    Knob("crop", None, {}, "the paper", "the paper (Future Work: \"the full resized image\")",
         shared=f"none: the full frame resized to {_dims(E.crop)}"),
    Knob("motion stream (beyond the paper)", None, {}, "our choice",
         "the paper's Future Work (\"a dual stream model similar to ... Simonyan et al.\"), our choice: "
         "Farneback with OpenCV's example values between each sampled frame and the next; x, y "
         f"and magnitude rendered as {E.flow_offset:g} + {E.flow_scale:g}u, {E.flow_offset:g} + "
         f"{E.flow_scale:g}v, {E.flow_scale:g} x magnitude (after Gkioxari & Malik 2015; "
         "the constants ours), through the same preprocessing and CaffeNet (caffe_extract/flow.py)",
         shared="Farneback flow images, one per sampled frame, the same CaffeNet's fc7"),
    Knob("future work's settings (beyond the paper)", None, {}, "our choice",
         "our choice: the demo's main table's, so that every future-work row is trained and "
         "tested as the paper's models on the same split and compared with the paper's best "
         "model (`make future`, experiment.future)",
         shared=f"hidden {_nums(FW.hidden)}, lr {_nums(FW.lrs)}, {FW.epochs} epochs"
                + (f", patience {FW.patience}" if FW.patience else ", no early stopping")
                + f", {FW.seeds} seeds; every row against the {NAMES[FW.reference]}"),
    Knob("stream fusion (beyond the paper)", None, {}, "our choice",
         "Simonyan & Zisserman 2014 average the streams' softmax scores or stack them for an "
         "SVM; our choice, the average and one weight w of the RGB stream chosen on validation "
         f"from {_nums(FW.fusion_weights[:2])}, ..., {FW.fusion_weights[-1]:g} (ties nearest 1/2): "
         "an SVM on 2 x C scores would overfit the demo's 240 training videos "
         "(experiment/future/fusion.py)",
         shared="p = w p_rgb + (1 - w) p_flow; w = 1/2, and w chosen on validation"),
    Knob("flow stream's Average learning rates (beyond the paper)", None, {}, "our choice",
         "our choice, measured: at the demo's lr 0.003 the Average model's ReLUs died within an "
         "epoch on the flow codes (test 12.5%, best epoch 1); its grid reaches lower (the "
         "recurrent models keep the main grid)",
         shared=f"the main grid and {_nums(FW.flow_average_lrs)}"),
    Knob("augmentation views (beyond the paper)", None, {}, "our choice",
         "the paper's Future Work asks for augmentation; caffe.Classifier.predict(oversample="
         "True), BVLC Caffe's python/classifier.py and caffe.io.oversample of 2015: our choice "
         "(`extract --views oversample`, experiment.future.augment)",
         shared=f"{E.n_views} per frame: resized to {_dims(E.view_dims)}, {_dims(E.crop)} crops at 4 "
                "corners and centre, and their mirrors; training draws one per video per epoch"),
    Knob("test views (beyond the paper)", None, {}, "our choice",
         "caffe.Classifier averaged its 10 crops' predictions; the centre crop alone is its "
         "oversample=False: our choice, both reported; validation on the centre view",
         shared=f"centre view; and the mean of the {E.n_views} views' averaged probabilities"),
    Knob("views store dtype (beyond the paper)", None, {}, "our choice",
         "our choice (`extract --store-dtype`): float16 halves the 10-view store's disk and "
         "memory; each minibatch is converted to float32 (exact)",
         shared="float32 (float16 on request)"),
    Knob("resize", "anti_aliasing", {False: "bilinear, no anti-aliasing",
                                     True: "bilinear, anti-aliased"}, "our choice",
         "the paper does not say: caffe.io.resize_image of 2015 (skimage then did not "
         "anti-alias), our choice"),
    Knob("ImageNet mean", "mean", {"channel": "per channel (B 104.0, G 116.7, R 122.7)",
                                   "pixel": "per pixel"}, "our choice",
         "the paper does not say: our choice (Caffe's classification example)"),
    Knob("CNN and layer", None, {}, "the paper",
         "the paper (Data Processing: BVLC CaffeNet, FC7); after relu7: pycaffe's in-place "
         "ReLU, our reading", shared="BVLC CaffeNet, FC7 after its in-place ReLU"),
    Knob("RNN step", "rnn_step", RNN_STEP, "the paper",
         f"the paper (Models, its h_t equation); {NNTOOLS}, RecurrentLayer's "
         "DenseLayers apply the nonlinearity (fixed by 9790911, 2015-04-23)"),
    Knob("BiRNN backward layer's initial state h_{T+1}", "learn_init",
         {True: "learnt (one vector, shared by all videos)", False: "0"}, "nntools",
         f"the paper is silent; {NNTOOLS}: `learn_init=backwards` (fixed by eb1a51e, "
         "2015-04-24); there it is (n_batch, H), one state per batch slot: we learn one (H,) "
         "vector, as 0.1's learn_init does"),
    Knob("LSTM output gate", "lasagne_output_gate",
         {True: "o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + b_o_gate) + w_co c_t",
          False: "o_t = sigmoid(W_xo x_t + W_ho_gate h_{t-1} + w_co c_t + b_o_gate) (Graves)"},
         "nntools", f"the paper cites Graves only; {NNTOOLS} (since 8446476) and {LASAGNE_01} "
         "add the peephole after the sigmoid (fixed after 0.1, Lasagne PR #449)"),
    Knob("LSTM peepholes", "peepholes", {True: "yes (w_ci, w_cf, w_co)", False: "no"}, "nntools",
         f"the paper is silent; {NNTOOLS} and 0.1: on by default"),
    Knob("temporal convolution width", None, {}, "our choice",
         "the paper (Models, last paragraph: \"a one dimensional convolution on the collection "
         f"of CNN codes (10 x 4096)\") gives no width: our choice, {TR.tconv_width}, the smallest "
         "that mixes neighbouring frames; odd, zero-padded, so that every frame has its own output",
         shared=f"{TR.tconv_width} frames centred on t, zero padding (the tconv model)"),
    Knob("autoencoder split point k (beyond the paper)", None, {}, "our choice",
         "Srivastava et al. 2015 (cited by the paper's Future Work) encode the first frames and "
         f"predict the rest; the paper's {E.n_frames} codes: our choice, k = T/2 = "
         f"{FW.pretrain_split} read, {FW.pretrain_split} reconstructed in reverse order "
         f"(Srivastava's order), {E.n_frames - FW.pretrain_split} predicted",
         shared=f"encoder reads x_1..x_{FW.pretrain_split}; decoders output x_{FW.pretrain_split}"
                f"..x_1 and x_{FW.pretrain_split + 1}..x_{E.n_frames}"),
    Knob("autoencoder decoders (beyond the paper)", None, {}, "our choice",
         "Srivastava et al. 2015: conditioned and unconditioned decoders did about equally well; "
         "our choice, unconditioned (no input), each LSTM Graves' cell with the classifier's "
         "options, started from the encoder's last (h_k, c_k)",
         shared="two unconditioned LSTM decoders (reconstruction, future), composite model"),
    Knob("autoencoder readout and loss (beyond the paper)", None, {}, "our choice",
         "Srivastava et al. 2015 use a squared loss for real-valued percepts; our choice, a "
         "linear readout (codes are real) and the squared error per code averaged over videos "
         "and the T predicted codes",
         shared="x_hat = W_r h + b_r; L = (1/(N T)) sum over n, t, d of (x_hat - x)^2"),
    Knob("pretraining optimiser and epochs (beyond the paper)", None, {}, "our choice",
         f"our choice: the classifier's optimiser; lr {FW.pretrain_lr:g} (0.003 diverged on the "
         f"demo's codes); {FW.pretrain_epochs} epochs, the lowest validation-loss epoch's encoder "
         "kept; training codes only, no labels; one autoencoder per classifier seed",
         shared=f"SGD, Nesterov {TR.momentum:g}, batch {TR.batch_size}, lr {FW.pretrain_lr:g}, "
                f"{FW.pretrain_epochs} epochs"),
    Knob("label fractions (beyond the paper)", None, {}, "our choice",
         "Srivastava et al. 2015 report the gain with few labelled videos per class; our choice, "
         f"{_nums(100 * f for f in FW.label_fractions)}% of each class's training videos (ceil, "
         ">= 1), seeded, nested, the same with and without pretraining; validation set whole",
         shared=f"{_nums(100 * f for f in FW.label_fractions)}% of the training labels, "
                "stratified"),
    Knob("ReLU gradient at 0", "relu_grad_at_zero", {0.5: "0.5", 0.0: "0 (torch.relu)"},
         "nntools", "the paper is silent; `lasagne/nonlinearities.py` (2014-12 to 2015-09): "
         "rectify = 0.5 (x + abs(x))"),
    Knob("initial values", "init", INIT, "nntools",
         f"the paper is silent; {NNTOOLS_INIT}: Uniform() = Glorot's range; LSTMLayer at "
         "fce361f: every W and b Normal(0.1); 0.1: Uniform() = +-0.01, LSTM biases 0 (9c7d1ec); "
         "dense layers Glorot, biases 0 in all"),
    Knob("training precision", "dtype", {"float32": "float32", "float64": "float64"}, "nntools",
         "the paper trained on a GPU (Experiments); Theano's GPU backend of 2015 was float32"),
    Knob("loss", "loss", {"averaged": "-log p_y, p = (1/T) sum_t P_t",
                          "per-step": "-(1/T) sum_t log P_t,y"}, "our choice",
         "the paper gives only the prediction rule (argmax of the averaged softmax): our choice, "
         "the cross-entropy of that same averaged prediction"),
    Knob("dropout", None, {}, "our choice",
         "the paper: Average model \"utilizing ... dropout\", rate not given: our choice "
         f"{TR.dropout:g} (Lasagne's default), on its hidden layer only; the recurrent models: "
         "none stated, none",
         shared=f"Average: {TR.dropout:g} on its hidden layer; recurrent models: none"),
    Knob("weight decay", None, {}, "our choice",
         f"the paper does not say: our choice ({_or_none(TR.weight_decay)})",
         shared=_or_none(TR.weight_decay)),
    Knob("optimiser", None, {}, "nntools",
         "the paper does not say; the fork's examples/recurrent_bidirectional.py trains with "
         f"`lasagne.updates.nesterov_momentum` (momentum {TR.momentum:g}); batch {TR.batch_size}: "
         "our choice",
         shared=f"SGD, Nesterov momentum {TR.momentum:g}, batch {TR.batch_size}"),
    Knob("hyperparameters", None, {}, "our choice",
         "the paper does not say (\"searching near the parameters of previous models\"): our "
         "choice, a grid by validation accuracy",
         shared=f"lr in {{{_nums(TR.lrs)}}}, hidden {_nums(TR.hidden)}"),
    Knob("epochs and early stopping", None, {}, "our choice",
         f"the paper: \"training accuracies >95%\"; our choice: <= {TR.epochs} epochs, keep the "
         f"best validation epoch, stop after {TR.patience} without a better one",
         shared=f"<= {TR.epochs}, best validation epoch, patience {TR.patience}"),
    Knob("validation set", None, {}, "our choice",
         "the paper does not say how it validated: our choice, whole groups so that no group's "
         "clips are on both sides", shared=f"{TR.val_groups} train-list groups held out"),
    Knob("split", None, {}, "our choice",
         f"the paper does not say which split: our choice split {TR.split} (all three with "
         "SPLITS=\"1 2 3\")", shared=f"official split {TR.split}"),
    Knob("fine-tuning (beyond the paper)", None, {}, "our choice",
         "the paper's Future Work names fine-tuning, no recipe: our choice, fc6 and fc7 with "
         f"CaffeNet's train-net dropout {FW.finetune_fc_dropout:g} (models/bvlc_reference_caffenet/train_val.prototxt) "
         "under the chosen model, from its best-validation epoch, on pool5 codes stored once "
         "(`extract --layer pool5`, experiment.future.finetune)",
         shared=f"fc6, fc7 (dropout {FW.finetune_fc_dropout:g}) + the chosen model, from pool5 "
                "codes"),
    Knob("fine-tuning learning rates (beyond the paper)", None, {}, "our choice",
         "our choice after Caffe's examples/finetune_flickr_style (the pretrained layers learn "
         "10x slower than the new one): adapt CaffeNet's layers without erasing them; SGD as "
         f"the model's training, fresh Nesterov momentum {TR.momentum:g}, batch {TR.batch_size}",
         shared=f"the model: its chosen lr; fc6, fc7: {FW.finetune_fc_lr_scale:g} x that"),
    Knob("fine-tuning epochs (beyond the paper)", None, {}, "our choice",
         "our choice: what the demo affords on two CPU cores (fc6 and fc7 hold 54.5 M "
         "weights, 50x the BiRNN's at hidden 128); no early stopping",
         shared=f"{FW.finetune_epochs}, the best validation epoch tested"),
)


def get(name):
    """The configuration called ``name``; a clear error naming the ones there are."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}: choose one of "
                         f"{', '.join(CONFIGS)}") from None


def knob_value(knob, config):
    """How ``knob`` reads in ``config``."""
    if knob.field is None:
        return knob.shared
    return knob.values[getattr(config, knob.field)]


def markdown_table():
    """The knob table: each configuration's value, what decided `paper`'s, and the sources."""
    order = [PAPER, NNTOOLS_2015, LASAGNE_0_1, MODERN]
    lines = ["| knob | " + " | ".join(f"`{c.name}`" for c in order)
             + " | `paper` decided by | source |",
             "| --- | " + " | ".join("---" for _ in order) + " | --- | --- |"]
    for knob in KNOBS:
        paper = knob_value(knob, PAPER)
        cells = [paper] + ["same" if knob_value(knob, c) == paper else knob_value(knob, c)
                           for c in order[1:]]
        lines.append(f"| {knob.knob} | " + " | ".join(cells)
                     + f" | {knob.decided_by} | {knob.source} |")
    return "\n".join(lines)


def model_label(model, config):
    """The name a results row carries: the paper's name, and what the variant is where a
    reader could mistake it (the LSTM names its gate; other configurations say what differs
    from ``paper``)."""
    name = NAMES.get(model, model)
    options = config.model_options(model)
    notes = []
    if "width" in options:
        notes.append(f"1-D, width {options['width']}")
    if "lasagne_output_gate" in options:
        notes.append("Lasagne 0.1 output gate" if options["lasagne_output_gate"]
                     else "Graves' output gate")
        if not options["peepholes"]:
            notes.append("no peepholes")
    if options.get("rnn_step", "equation") != "equation":
        notes.append("nntools step")
    if model == "birnn" and config.learn_init != PAPER.learn_init:
        notes.append("learnt h_{T+1}" if config.learn_init else "h_{T+1} = 0")
    if options.get("relu_grad_at_zero", 0.5) != 0.5:
        notes.append("ReLU'(0) = 0")
    if config.init != PAPER.init:
        notes.append(f"{config.init} init")
    if config.dtype != "float32":
        notes.append(config.dtype)
    if config.loss != PAPER.loss:
        notes.append(f"{config.loss} loss")
    return f"{name} ({', '.join(notes)})" if notes else name
