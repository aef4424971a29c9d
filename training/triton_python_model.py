"""Triton Python-backend model: one bundle graph (model.onnx beside this file) through ONNX Runtime.

export_repository copies this file into each graph's version folder when the repository is written for a
server that has only the Python backend (the nvidia-pytriton wheel's). It runs inside the server's stub
process, so it imports only numpy, onnxruntime and the backend's own utilities.
"""

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Runs every request of a dynamic batch as one ONNX Runtime call, then splits the outputs."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        onnx = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("DACL_TRITON_THREADS", "1"))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
        self.input = config["input"][0]["name"]
        self.outputs = [o["name"] for o in config["output"]]

    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, self.input).as_numpy() for r in requests]
        results = self.session.run(self.outputs, {self.input: np.concatenate(arrays)})
        responses, start = [], 0
        for array in arrays:
            stop = start + len(array)
            tensors = [pb_utils.Tensor(n, np.ascontiguousarray(v[start:stop]))
                       for n, v in zip(self.outputs, results, strict=True)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start = stop
        return responses
