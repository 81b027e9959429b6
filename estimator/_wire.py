"""Read an ONNX file's structure without reading its weights.

An ONNX model is a protobuf message. This module walks the protobuf wire format
of ``ModelProto`` -> ``GraphProto`` -> ``TensorProto`` directly over a
file (in memory, or read piece by piece) and rebuilds the message with large tensor payloads
(``raw_data``, ``float_data``, ...) left out, keeping every tensor's name,
dims and data type. Payload bytes are skipped by length and never touched, so
a 500 MB model costs a few MB of memory and milliseconds of time; the slim
message is then parsed by protobuf and shape-inferred as usual.

Along the way it checks what protobuf alone would not: that each payload's
length matches the tensor's declared dims, and that external-data locations
stay inside the model's folder.

Field numbers are those of onnx/onnx.proto3 (stable since IR version 3).
"""

from __future__ import annotations

from .._messages import show

__all__ = ["WireError", "WireLimitError", "slim_model", "ELEMENT_BYTES", "MAX_RANK", "MAX_GRAPH_DEPTH"]

# Tags of the messages we descend into (field number -> meaning).
_MODEL_GRAPH = 7
_GRAPH_NODE = 1
_GRAPH_INITIALIZER = 5
_NODE_ATTRIBUTE = 5
_ATTR_T = 5
_ATTR_G = 6
_ATTR_TENSORS = 11
_ATTR_GRAPHS = 10
_TENSOR_DIMS = 1
_TENSOR_DATA_TYPE = 2
_TENSOR_NAME = 8
_TENSOR_RAW_DATA = 9
_TENSOR_EXTERNAL_DATA = 13
#: Typed payload fields of TensorProto: float_data, int32_data, string_data,
#: int64_data, raw_data, double_data, uint64_data.
_TENSOR_PAYLOAD_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})

#: Bytes per element of each TensorProto.DataType (0 for variable-size types).
ELEMENT_BYTES: dict[int, float] = {
    1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 8: 0, 9: 1, 10: 2, 11: 8, 12: 4,
    13: 8, 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 0.5, 22: 0.5,
    23: 0.5, 24: 1, 25: 0.5, 26: 0.5,
}


class WireError(ValueError):
    """The bytes are not a well-formed ONNX protobuf message."""


class WireLimitError(WireError):
    """The message is well-formed so far but exceeds a limit (nodes, rank, nesting)."""


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf, start: int, end: int):
    """Yield (field_number, wire_type, field_start, value_start, value_end, varint_value)."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield field, wire, field_start, pos, pos, value
        elif wire == 1:
            pos += 8
            if pos > end:
                raise WireError("truncated 64-bit field")
            yield field, wire, field_start, pos - 8, pos, 0
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise WireError(f"field {field} claims {length} bytes past the end of its message")
            yield field, wire, field_start, pos, pos + length, 0
            pos += length
        elif wire == 5:
            pos += 4
            if pos > end:
                raise WireError("truncated 32-bit field")
            yield field, wire, field_start, pos - 4, pos, 0
        else:
            raise WireError(f"unsupported wire type {wire} (field {field})")


def _message(field: int, body: bytes) -> bytes:
    return _encode_varint((field << 3) | 2) + _encode_varint(len(body)) + body


#: Most dimensions of one tensor (numpy's limit; real models use at most 8).
MAX_RANK = 64
#: Deepest nesting of subgraphs (If/Loop/Scan bodies inside bodies).
MAX_GRAPH_DEPTH = 16


class _Scanner:
    def __init__(self, buf, keep_payload_below: int, check_external, max_nodes: int):
        self.buf = buf
        self.keep = keep_payload_below
        self.check_external = check_external
        self.max_nodes = max_nodes
        self.nodes = 0
        self.depth = 0

    def tensor(self, start: int, end: int) -> bytes:
        buf = self.buf
        dims: list[int] = []
        data_type = 0
        name = ""
        payload = 0
        raw_len = -1
        external: dict[str, str] = {}
        kept = bytearray()
        drop = []
        for field, wire, fstart, vstart, vend, value in _fields(buf, start, end):
            if field == _TENSOR_DIMS:
                if wire == 0:
                    dims.append(value if value < 2**63 else value - 2**64)
                elif wire == 2:  # packed
                    pos = vstart
                    while pos < vend and len(dims) <= MAX_RANK:
                        dim, pos = _varint(buf, pos, vend)
                        dims.append(dim if dim < 2**63 else dim - 2**64)
                if len(dims) > MAX_RANK:
                    raise WireLimitError(f"a tensor has more than {MAX_RANK} dimensions")
            elif field == _TENSOR_DATA_TYPE and wire == 0:
                data_type = value
            elif field == _TENSOR_NAME and wire == 2:
                name = bytes(buf[vstart:vend]).decode("utf-8", "replace")
            elif field == _TENSOR_EXTERNAL_DATA and wire == 2:
                key, val = _string_entry(buf, vstart, vend)
                external[key] = val
            if field in _TENSOR_PAYLOAD_FIELDS and wire == 2:
                payload += vend - vstart
                drop.append((fstart, vend))
                if field == _TENSOR_RAW_DATA:
                    raw_len = max(raw_len, 0) + vend - vstart
        for dim in dims:
            if dim < 0:
                raise WireError(f"tensor {show(name)} has negative dimension in dims {tuple(dims)}")
        location = external.get("location")
        if location is not None:
            self.check_external(name, location)
        if location is None and raw_len >= 0:
            _check_raw_size(name, dims, data_type, raw_len)
        if payload <= self.keep:
            return bytes(buf[start:end])
        pos = start
        for s, e in drop:
            kept += buf[pos:s]
            pos = e
        kept += buf[pos:end]
        return bytes(kept)

    def _rewrite(self, start: int, end: int, handlers: dict, counted: int = 0) -> bytes:
        """Copy a message field by field, rebuilding the length-delimited fields that have a handler.

        ``handlers`` maps a field number to ``(method, min_length)``: the method
        rebuilds the submessage; submessages shorter than ``min_length`` are copied as they are.
        Fields numbered ``counted`` (graph nodes) count against the scanner's node limit.
        """
        out = bytearray()
        buf = self.buf
        for field, wire, fstart, vstart, vend, _ in _fields(buf, start, end):
            if field == counted:
                self.nodes += 1
                if self.nodes > self.max_nodes:
                    raise WireLimitError(f"more than {self.max_nodes} nodes")
            handler, min_length = handlers.get(field, (None, 0)) if wire == 2 else (None, 0)
            if handler is not None and vend - vstart >= min_length:
                out += _message(field, handler(vstart, vend))
            else:
                out += buf[fstart:vend]
        return bytes(out)

    def graph(self, start: int, end: int) -> bytes:
        # every initializer loses its payload; only large nodes can hold large Constant tensors
        self.depth += 1
        if self.depth > MAX_GRAPH_DEPTH:
            raise WireLimitError(f"subgraphs nested more than {MAX_GRAPH_DEPTH} deep")
        try:
            return self._rewrite(start, end, {_GRAPH_INITIALIZER: (self.tensor, 0),
                                              _GRAPH_NODE: (self.node, self.keep + 1)}, counted=_GRAPH_NODE)
        finally:
            self.depth -= 1

    def node(self, start: int, end: int) -> bytes:
        return self._rewrite(start, end, {_NODE_ATTRIBUTE: (self.attribute, self.keep + 1)})

    def attribute(self, start: int, end: int) -> bytes:
        return self._rewrite(start, end, {_ATTR_T: (self.tensor, 0), _ATTR_TENSORS: (self.tensor, 0),
                                          _ATTR_G: (self.graph, 0), _ATTR_GRAPHS: (self.graph, 0)})

    def model(self, start: int, end: int) -> bytes:
        return self._rewrite(start, end, {_MODEL_GRAPH: (self.graph, 0)})


def slim_model(buf, *, keep_payload_below: int = 4096, check_external=lambda name, loc: None,
               max_nodes: int = 10**7):
    """Rebuild a serialized ModelProto without large tensor payloads.

    Parameters
    ----------
    buf : bytes-like
        The serialized model (bytes, or any object with len() and indexing; skipped
        payloads are never read).
    keep_payload_below : int
        Tensors whose payload is at most this many bytes keep their data (shape
        tensors, axes, small constants needed by shape inference).
    check_external : callable(name, location)
        Called for every external-data location; raise to refuse it.
    max_nodes : int
        Most nodes in all graphs together; more raise WireError before the rest is read.

    Returns
    -------
    bytes
        A serialized ModelProto with the same structure and shapes.

    Raises
    ------
    WireError
        If the bytes are not well-formed protobuf, a tensor's payload size
        contradicts its dims, a tensor has more than :data:`MAX_RANK` dimensions,
        subgraphs nest deeper than :data:`MAX_GRAPH_DEPTH` or there are more than
        ``max_nodes`` nodes.
    """
    return _Scanner(buf, keep_payload_below, check_external, max_nodes).model(0, len(buf))


def _string_entry(buf, start: int, end: int) -> tuple[str, str]:
    """The key and value of a ``StringStringEntryProto`` (an external-data entry)."""
    key = val = ""
    for field, wire, _, vstart, vend, _value in _fields(buf, start, end):
        if field == 1 and wire == 2:
            key = bytes(buf[vstart:vend]).decode("utf-8", "replace")
        elif field == 2 and wire == 2:
            val = bytes(buf[vstart:vend]).decode("utf-8", "replace")
    return key, val


def _check_raw_size(name: str, dims: list, data_type: int, raw_len: int) -> None:
    """``raw_data`` must hold exactly the bytes its dims and data type declare.

    Only raw_data has a fixed byte size per element; typed fields are varint- or fixed-packed and
    checked by onnx later.
    """
    size = ELEMENT_BYTES.get(data_type, 0)
    if not size:
        return
    n_elems = 1
    for dim in dims:
        n_elems *= dim
    expected = -(-n_elems // 2) if size < 1 else n_elems * int(size)
    if raw_len != expected:
        raise WireError(f"tensor {show(name)} declares dims {tuple(dims)} ({n_elems} elements) "
                        f"but holds {raw_len} bytes of data, {expected} expected")
