"""Builds the traced-64 fixture: a traced, frozen TorchScript model cut in two by the repo's
tools/scripts/split_torchscript.py (run: /usr/bin/python3 make_fixture.py; needs Debian's
python3-torch).

model.pt stands for what a user who only has a TorchScript file holds: a small 3x64x64 CNN with
seeded random weights, traced with torch.jit.trace and then frozen, so it has no children, its
weights are constants of one forward graph and batch norm is folded into the convolutions. The
script then cuts it where docs/models.md says, at the ReLU after the last convolution (16x16x16
feature maps), into features.pt and head.pt (global average pooling, a linear layer to 5 classes).
Its weights mean nothing.
"""
import os
import subprocess
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SPLIT = os.path.join(HERE, "../../../../../../tools/scripts/split_torchscript.py")
CUT_AT = "input5.1"  # the last ReLU's output: `split_torchscript.py model.pt --list` shows it

torch.manual_seed(64)
net = nn.Sequential(
    nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
    nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))
with torch.no_grad():
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
net.eval()

frozen = torch.jit.freeze(torch.jit.trace(net, torch.rand(1, 3, 64, 64)))
frozen.save(os.path.join(HERE, "model.pt"))

subprocess.run([sys.executable, SPLIT, "model.pt", "--input-shape", "1,3,64,64", "--list"],
               cwd=HERE, check=True)
subprocess.run([sys.executable, SPLIT, "model.pt", "--input-shape", "1,3,64,64",
                "--at", CUT_AT, "--out", "."], cwd=HERE, check=True)

# The server normalises pixels with model.json's mean and std before the model sees them.
x = torch.linspace(0, 1, 3 * 64 * 64).reshape(1, 3, 64, 64)
mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
with torch.no_grad():
    print("reference logits for linspace pixels:",
          [round(v, 6) for v in frozen((x - mean) / std)[0].tolist()])
