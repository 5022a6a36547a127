"""Builds the pooled-walkable fixture (run: python3 make_fixture.py; torch 1.13, Debian's python3-torch).

A 3x32x32 CNN with 5 classes and seeded random weights in the usual shape of a small classifier:
convolutions with batch norm (folded into them with torch.nn.utils.fusion.fuse_conv_bn_eval, as
docs/models.md says), a stride-2 convolution, global average pooling, flatten, linear. One model.pt,
traced without freezing; model.json declares its layers so the white-box methods can walk it.
"""
import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

torch.manual_seed(32)
net = nn.Sequential(
    nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.Conv2d(16, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 5))
net.train()
with torch.no_grad():
    for _ in range(5):
        net(torch.rand(16, 3, 32, 32))
net.eval()
fused = nn.Sequential(fuse_conv_bn_eval(net[0], net[1]), net[2], fuse_conv_bn_eval(net[3], net[4]),
                      net[5], net[6], net[7], net[8]).eval()
x = torch.rand(4, 3, 32, 32)
with torch.no_grad():
    difference = (fused(x) - net(x)).abs().max().item()
assert difference < 1e-5, difference
print("largest difference between the fused and the original network:", difference)
print("parameters:", [name for name, _ in fused.named_parameters()])
torch.jit.trace(fused, torch.rand(1, 3, 32, 32)).save("model.pt")
