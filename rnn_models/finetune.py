"""CaffeNet's fc6 and fc7, fine-tuned jointly with one of the paper's models (the paper's Future
Work: "fine-tuning"; issue 24), on each frame's pool5 code stored once (``caffe_extract extract
--layer pool5``; x_t: 256 x 6 x 6 = 9216 values in Caffe's C, H, W order):

    a6_t = W6 x_t + b6,     h6_t = ReLU(a6_t),     d6_t = m6_t * h6_t        fc6, relu6, drop6
    a7_t = W7 d6_t + b7,    h7_t = ReLU(a7_t),     z_t  = m7_t * h7_t        fc7, relu7, drop7
    p    = head(z_1 .. z_T)                          (rnn_models.build: Average, RNN, BiRNN, ...)

m6_t, m7_t: inverted-dropout masks, entries 0 (probability r = 0.5, CaffeNet's train net) or
1/(1-r); in eval mode z_t is the relu7 code the extraction stores (``--layer fc7``). ReLU'(0) =
0, as Caffe's. W6 and W7 are stored as Caffe's InnerProduct blobs (output, input): ``load_fc``
copies them without a transpose.

    model = FineTuned(rnn_models.build("birnn", 4096, 512, 101))
    model.load_fc({"fc6": (W6, b6), "fc7": (W7, b7)})   # CaffeNet's, e.g. from the port
    p = model(x)                                         # x (N, T, 9216) -> (N, C)

Parameters (``state_dict`` keys): W6, b6, W7, b7, and the head's as ``head.<name>``.
"""
import torch
from torch import nn

from reference.finetune import DROPOUT      # CaffeNet's drop6 and drop7 (train_val.prototxt)

POOL5_DIM = 256 * 6 * 6     # CaffeNet's pool5, the input of fc6
FC_DIM = 4096               # CaffeNet's fc6 and fc7


class FineTuned(nn.Module):
    """fc6 ... drop7 on each frame's pool5 code, then ``head`` (any model of ``rnn_models.build``)
    on the codes z (N, T, H7), H7 = ``head.config["input_dim"]``. The probability API is the
    head's, each method taking ``masks``: explicit (m6 (N, T, H6), m7 (N, T, H7)) dropout masks
    instead of drawn ones. fc6 and fc7 hold zeros until ``load_fc`` copies CaffeNet's in.
    """

    def __init__(self, head, input_dim=POOL5_DIM, fc6_dim=FC_DIM, dropout=DROPOUT):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        fc7_dim = head.config["input_dim"]
        self.W6 = nn.Parameter(torch.zeros(fc6_dim, input_dim))
        self.b6 = nn.Parameter(torch.zeros(fc6_dim))
        self.W7 = nn.Parameter(torch.zeros(fc7_dim, fc6_dim))
        self.b7 = nn.Parameter(torch.zeros(fc7_dim))
        self.head = head
        self.dropout = dropout
        self.config = dict(name="finetune", input_dim=input_dim, fc6_dim=fc6_dim,
                           dropout=dropout, head=head.config)

    def load_fc(self, layers, source="the caffemodel"):
        """Copy fc6 and fc7 in, strictly: ``layers`` maps exactly "fc6" and "fc7" to (weight
        (M, D), bias (M,)) arrays or tensors of this module's shapes (CaffeNet's, as the
        port ``caffe_extract.caffenet`` loads them); anything else is a ValueError."""
        if sorted(layers) != ["fc6", "fc7"]:
            raise ValueError(f"{source}: need the layers fc6 and fc7 exactly, got {sorted(layers)}")
        with torch.no_grad():
            for name, (W, b) in (("fc6", (self.W6, self.b6)), ("fc7", (self.W7, self.b7))):
                for target, value in zip((W, b), layers[name]):
                    value = torch.as_tensor(value)
                    if tuple(value.shape) != tuple(target.shape):
                        raise ValueError(f"{source}: {name} has a blob of shape "
                                         f"{tuple(value.shape)}, this model's is "
                                         f"{tuple(target.shape)} (CaffeNet's fc6 is (4096, "
                                         f"9216), fc7 (4096, 4096))")
                    target.copy_(value)

    def _drop(self, h, mask):
        if mask is not None:
            return h * mask
        return nn.functional.dropout(h, self.dropout, training=self.training and self.dropout > 0)

    def codes(self, x, masks=None):
        """x (N, T, D) pool5 codes -> z (N, T, H7): fc6 ... drop7 on every frame."""
        m6, m7 = (None, None) if masks is None else masks
        N, T, D = x.shape
        a6 = torch.addmm(self.b6, x.reshape(N * T, D), self.W6.T)          # (N T, H6)
        d6 = self._drop(torch.relu(a6).view(N, T, -1), m6)                  # (N, T, H6)
        a7 = torch.addmm(self.b7, d6.reshape(N * T, -1), self.W7.T)        # (N T, H7)
        return self._drop(torch.relu(a7).view(N, T, -1), m7)               # (N, T, H7)

    def forward(self, x, masks=None):
        return self.head(self.codes(x, masks))                              # (N, C)

    def step_probabilities(self, x, masks=None):
        return self.head.step_probabilities(self.codes(x, masks))           # (N, T, C)

    def log_probabilities(self, x, masks=None):
        return self.head.log_probabilities(self.codes(x, masks))            # (N, C)

    def step_log_probabilities(self, x, masks=None):
        return self.head.step_log_probabilities(self.codes(x, masks))       # (N, T, C)
