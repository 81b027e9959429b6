"""Build small TFLite flatbuffers in tests (no TensorFlow needed)."""

from __future__ import annotations

import flatbuffers
import tflite


def _int_vector(builder, start, values):
    start(builder, len(values))
    for value in reversed(values):
        builder.PrependInt32(value)
    return builder.EndVector()


def _offset_vector(builder, start, offsets):
    start(builder, len(offsets))
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def build(tensors, operators, inputs, outputs) -> bytes:
    """tensors: (name, shape, type, has_data); operators: (BUILTIN_NAME or custom:NAME, inputs, outputs, options dict)."""
    b = flatbuffers.Builder(4096)
    buffers = []
    tflite.BufferStart(b)
    buffers.append(tflite.BufferEnd(b))  # buffer 0: the empty sentinel
    tensor_buffer = []
    for _, shape, _, has_data in tensors:
        if has_data:
            size = 1
            for dim in shape:
                size *= dim
            tflite.BufferStartDataVector(b, size)
            for _ in range(size):
                b.PrependUint8(0)
            data = b.EndVector()
            tflite.BufferStart(b)
            tflite.BufferAddData(b, data)
            buffers.append(tflite.BufferEnd(b))
            tensor_buffer.append(len(buffers) - 1)
        else:
            tensor_buffer.append(0)
    tensor_offsets = []
    for (name, shape, ttype, _), buffer_index in zip(tensors, tensor_buffer):
        name_offset = b.CreateString(name)
        shape_offset = _int_vector(b, tflite.TensorStartShapeVector, list(shape))
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape_offset)
        tflite.TensorAddType(b, ttype)
        tflite.TensorAddBuffer(b, buffer_index)
        tflite.TensorAddName(b, name_offset)
        tensor_offsets.append(tflite.TensorEnd(b))
    opcode_names = sorted({op[0] for op in operators})
    opcode_offsets = []
    for name in opcode_names:
        custom = b.CreateString(name.split(":", 1)[1]) if name.startswith("custom:") else None
        code = tflite.BuiltinOperator.CUSTOM if custom is not None else getattr(tflite.BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        if custom is not None:
            tflite.OperatorCodeAddCustomCode(b, custom)
        tflite.OperatorCodeAddVersion(b, 1)
        opcode_offsets.append(tflite.OperatorCodeEnd(b))
    operator_offsets = []
    for name, op_inputs, op_outputs, options in operators:
        in_offset = _int_vector(b, tflite.OperatorStartInputsVector, op_inputs)
        out_offset = _int_vector(b, tflite.OperatorStartOutputsVector, op_outputs)
        option_offset = None
        if "filter" in options:
            tflite.Pool2DOptionsStart(b)
            tflite.Pool2DOptionsAddFilterHeight(b, options["filter"])
            tflite.Pool2DOptionsAddFilterWidth(b, options["filter"])
            tflite.Pool2DOptionsAddStrideH(b, options["filter"])
            tflite.Pool2DOptionsAddStrideW(b, options["filter"])
            option_offset = tflite.Pool2DOptionsEnd(b)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, opcode_names.index(name))
        tflite.OperatorAddInputs(b, in_offset)
        tflite.OperatorAddOutputs(b, out_offset)
        if option_offset is not None:
            tflite.OperatorAddBuiltinOptionsType(b, tflite.BuiltinOptions.Pool2DOptions)
            tflite.OperatorAddBuiltinOptions(b, option_offset)
        operator_offsets.append(tflite.OperatorEnd(b))
    tensors_vec = _offset_vector(b, tflite.SubGraphStartTensorsVector, tensor_offsets)
    ops_vec = _offset_vector(b, tflite.SubGraphStartOperatorsVector, operator_offsets)
    in_vec = _int_vector(b, tflite.SubGraphStartInputsVector, inputs)
    out_vec = _int_vector(b, tflite.SubGraphStartOutputsVector, outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddOperators(b, ops_vec)
    tflite.SubGraphAddInputs(b, in_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    subgraph = tflite.SubGraphEnd(b)
    subgraphs_vec = _offset_vector(b, tflite.ModelStartSubgraphsVector, [subgraph])
    codes_vec = _offset_vector(b, tflite.ModelStartOperatorCodesVector, opcode_offsets)
    buffers_vec = _offset_vector(b, tflite.ModelStartBuffersVector, buffers)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    tflite.ModelAddBuffers(b, buffers_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


INT8, INT32, FLOAT32 = tflite.TensorType.INT8, tflite.TensorType.INT32, tflite.TensorType.FLOAT32


def small_cnn(ttype=INT8) -> bytes:
    """input 1x32x32x3 -> conv 3x3 16 -> depthwise 3x3/2 -> maxpool 2 -> reshape -> fc 10 -> softmax."""
    tensors = [
        ("input", (1, 32, 32, 3), ttype, False),          # 0
        ("conv_w", (16, 3, 3, 3), ttype, True),           # 1
        ("conv_b", (16,), INT32, True),                   # 2
        ("conv_out", (1, 32, 32, 16), ttype, False),      # 3
        ("dw_w", (1, 3, 3, 16), ttype, True),             # 4
        ("dw_b", (16,), INT32, True),                     # 5
        ("dw_out", (1, 16, 16, 16), ttype, False),        # 6
        ("pool_out", (1, 8, 8, 16), ttype, False),        # 7
        ("shape", (2,), INT32, True),                     # 8
        ("flat", (1, 1024), ttype, False),                # 9
        ("fc_w", (10, 1024), ttype, True),                # 10
        ("fc_b", (10,), INT32, True),                     # 11
        ("logits", (1, 10), ttype, False),                # 12
        ("probs", (1, 10), ttype, False),                 # 13
    ]
    operators = [
        ("CONV_2D", [0, 1, 2], [3], {}),
        ("DEPTHWISE_CONV_2D", [3, 4, 5], [6], {}),
        ("MAX_POOL_2D", [6], [7], {"filter": 2}),
        ("RESHAPE", [7, 8], [9], {}),
        ("FULLY_CONNECTED", [9, 10, 11], [12], {}),
        ("SOFTMAX", [12], [13], {}),
    ]
    return build(tensors, operators, [0], [13])
