"""Read (and write) the weights of a Caffe ``.caffemodel`` without Caffe: minimal protobuf.

A ``.caffemodel`` is a serialised ``NetParameter`` message (protobuf wire format). We need only
the layers' names and weight blobs, so we read only those fields, by their field numbers in
Caffe's ``caffe.proto`` (the constants below), and skip every other field.

Wire format: each field is a varint key (field_number << 3 | wire_type) and a value; wire types
0 varint, 1 fixed 64-bit, 2 length-delimited (strings, sub-messages, packed arrays),
5 fixed 32-bit. Packed floats become NumPy arrays without a copy per element.
``write_blobs`` writes the same fields back (a machine without Caffe, a GPU's, makes the
random-weight CaffeNet with it: ``caffe_extract.random_model``).
"""
from collections import OrderedDict

import numpy as np

NET_LAYER, NET_LAYERS_V1 = 100, 2                               # NetParameter: layer; V1 layers
LAYER_NAME, LAYER_TYPE, LAYER_BLOBS = 1, 2, 7                   # LayerParameter (type: string)
V1_NAME, V1_TYPE, V1_BLOBS = 4, 5, 6                            # V1LayerParameter (type: enum)
BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH = 1, 2, 3, 4   # BlobProto: legacy 4-d shape,
BLOB_DATA, BLOB_SHAPE, BLOB_DOUBLE_DATA = 5, 7, 8               # packed float, BlobShape, double
SHAPE_DIM = 1                                                   # BlobShape: packed int64

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class CaffeModelError(ValueError):
    """The file is not a readable .caffemodel, or not the net that was expected."""


def _varint(buf, pos):
    result, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CaffeModelError(f"malformed varint at byte {pos}")


def fields(buf, start=0, end=None):
    """Yield (field_number, wire_type, value) of the message in buf[start:end]. A varint's value
    is an int; a length-delimited value is its (start, end) span in ``buf``; fixed values raw."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(buf, pos)
        elif wire == LENGTH:
            length, pos = _varint(buf, pos)
            value = (pos, pos + length)
            pos += length
        elif wire in (FIXED32, FIXED64):
            size = 4 if wire == FIXED32 else 8
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise CaffeModelError(f"unsupported protobuf wire type {wire} at byte {pos}")
        if pos > end:
            raise CaffeModelError(f"field {number} runs past the end of its message (byte {end})")
        yield number, wire, value


def _packed(buf, wire, value, dtype):
    """A packed (or, in old files, unpacked) repeated numeric field as an array."""
    return np.frombuffer(buf[value[0]:value[1]] if wire == LENGTH else bytes(value), dtype=dtype)


def _blob(buf, start, end):
    """One BlobProto -> float32 array in its declared shape."""
    chunks, dims, legacy = [], None, {}
    for number, wire, value in fields(buf, start, end):
        if number == BLOB_DATA:
            chunks.append(_packed(buf, wire, value, "<f4"))
        elif number == BLOB_DOUBLE_DATA:
            chunks.append(_packed(buf, wire, value, "<f8").astype(np.float32))
        elif number == BLOB_SHAPE:
            dims = []
            for n, w, v in fields(buf, *value):
                if n == SHAPE_DIM:
                    if w == LENGTH:
                        pos, stop = v
                        while pos < stop:
                            d, pos = _varint(buf, pos)
                            dims.append(d)
                    else:
                        dims.append(v)
        elif number in (BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH) and wire == VARINT:
            legacy[number] = value
    data = np.concatenate(chunks) if len(chunks) != 1 else chunks[0]
    if dims is None:  # before BlobShape: a 4-d (num, channels, height, width) shape
        dims = [legacy.get(n, 0) for n in (BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH)]
    if int(np.prod(dims)) != data.size:
        raise CaffeModelError(f"a blob declares shape {tuple(dims)} but holds {data.size} values")
    return data.reshape(dims)


def read_blobs(path):
    """The weight blobs of every layer that has any: OrderedDict name -> [arrays], file order,
    from the current ``layer`` field and the V1 ``layers`` field of older files. A
    CaffeModelError (naming the file) for a truncated file, not a NetParameter, or a weight
    that is NaN or infinite."""
    try:
        with open(path, "rb") as f:
            buf = memoryview(f.read())
    except OSError as error:
        raise CaffeModelError(f"cannot read {path}: {error.strerror}") from None
    blobs = OrderedDict()
    try:
        for number, wire, value in fields(buf):
            if number not in (NET_LAYER, NET_LAYERS_V1) or wire != LENGTH:
                continue
            name_field, blob_field = (LAYER_NAME, LAYER_BLOBS) if number == NET_LAYER \
                else (V1_NAME, V1_BLOBS)
            name, layer_blobs = None, []
            for n, w, v in fields(buf, *value):
                if n == name_field and w == LENGTH:
                    name = bytes(buf[v[0]:v[1]]).decode("utf-8", "replace")
                elif n == blob_field and w == LENGTH:
                    layer_blobs.append(_blob(buf, *v))
            if layer_blobs:
                blobs[name] = layer_blobs
    except (IndexError, ValueError) as error:      # ValueError: numpy's, on a blob's bytes
        detail = f": {error}" if isinstance(error, CaffeModelError) else ""
        raise CaffeModelError(f"{path} is truncated or not a .caffemodel{detail}") from None
    if not blobs:
        raise CaffeModelError(f"{path} holds no layer with weights: not a .caffemodel")
    for name, layer_blobs in blobs.items():   # NaN weights would give NaN codes for every video
        bad = sum(int((~np.isfinite(b)).sum()) for b in layer_blobs)
        if bad:
            raise CaffeModelError(f"{path}: layer {name} holds {bad} non-finite weight(s) (NaN "
                                  "or infinite): damaged weights, download them again")
    return blobs


def _key_and_length(number, payload):
    """A length-delimited field: its key, its length, ``payload``."""
    return _to_varint(number << 3 | LENGTH) + _to_varint(len(payload)) + payload


def _to_varint(n):
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def write_blobs(path, blobs, types):
    """A ``.caffemodel`` of the layers ``blobs`` (name -> [float32 arrays]) of Caffe ``types``
    (name -> "Convolution", ...): each a LayerParameter with its name, type and BlobProtos
    (BlobShape, packed float data), what ``read_blobs`` and Caffe's CopyTrainedLayersFrom read."""
    layers = []
    for name, arrays in blobs.items():
        parts = [_key_and_length(LAYER_NAME, name.encode()),
                   _key_and_length(LAYER_TYPE, types[name].encode())]
        for a in arrays:
            shape = b"".join(_to_varint(d) for d in a.shape)
            blob = _key_and_length(BLOB_SHAPE, _key_and_length(SHAPE_DIM, shape)) + \
                _key_and_length(BLOB_DATA, np.ascontiguousarray(a, dtype="<f4").tobytes())
            parts.append(_key_and_length(LAYER_BLOBS, blob))
        layers.append(_key_and_length(NET_LAYER, b"".join(parts)))
    with open(path, "wb") as f:
        f.write(b"".join(layers))
