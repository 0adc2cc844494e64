"""The paper's future work, measured beside its four models (``python -m experiment.future``,
``make future``; its modules: docs/development.md, "Inside experiment/"). Each part trains
through the engine, ``experiment.train``."""
from common import commands, devices
from experiment.train import ERRORS, Runtime, outputs, set_deterministic


def command(parser, argv, work, inputs):
    """The package's commands, one shape: ``work(args, runtime)``'s exit status once
    ``parser`` has read ``argv``, the device is chosen with deterministic kernels and
    ``args.out`` is claimed for this command (``inputs``: the options naming the folders it
    reads). A user's error (the engine's, a bad caffemodel) is one line and status 1."""
    from caffe_extract.caffemodel import CaffeModelError
    from caffe_extract.weights import WeightsError
    args = parser.parse_args(argv)

    def body():
        device = devices.resolve(args.device)
        set_deterministic(device, False, args.threads)
        with outputs.claimed(args.out, parser.prog.split()[-1],
                             {option: getattr(args, option[2:]) for option in inputs}):
            return work(args, Runtime(device, not args.no_progress))
    return commands.guarded(body, ERRORS + (CaffeModelError, WeightsError))
