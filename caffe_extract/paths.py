"""Where the project keeps files: Caffe's deploy net and mean, the build and model caches."""
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ASSETS = PACKAGE / "assets"
DEPLOY_PROTOTXT = ASSETS / "deploy.prototxt"
MEAN_FILE = ASSETS / "ilsvrc_2012_mean.npy"

#: Caches (Caffe build, generated random-weight models). Override with ACTION_RNN_CACHE.
CACHE = Path(os.environ.get("ACTION_RNN_CACHE", PACKAGE.parent / ".cache"))
#: Where `make weights` puts the real CaffeNet weights.
MODELS = PACKAGE.parent / "models"
