"""Builds the fused-walkable fixture (run: python3 make_fixture.py; torch 1.13, Debian's python3-torch).

tiny-torchscript's network (3x16x16, 4 classes, seed 7, the same BatchNorm running statistics) exported
for the white-box methods as docs/models.md says: the BatchNorm folded into the convolution before it
with torch.nn.utils.fusion.fuse_conv_bn_eval, the layers flattened into one Sequential so that its
parameters are named "0.weight", "0.bias", ..., traced without freezing. model.json declares the
layers. The script checks that the fused network computes the original one, and prints the reference
logits of the linspace input.
"""
import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

torch.manual_seed(7)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.head(self.features(x))


net = TinyNet()
net.train()
with torch.no_grad():
    for _ in range(5):
        net(torch.rand(16, 3, 16, 16))
net.eval()

f = net.features
fused = nn.Sequential(fuse_conv_bn_eval(f[0], f[1]), f[2], f[3], f[4], f[5], f[6], *net.head)
fused.eval()
x = torch.rand(4, 3, 16, 16)
with torch.no_grad():
    difference = (fused(x) - net(x)).abs().max().item()
assert difference < 1e-5, difference
print("largest difference between the fused and the original network:", difference)
print("parameters:", [name for name, _ in fused.named_parameters()])
traced = torch.jit.trace(fused, torch.rand(1, 3, 16, 16))
traced.save("model.pt")

x = torch.linspace(0, 1, 3 * 16 * 16).reshape(1, 3, 16, 16)
with torch.no_grad():
    print("reference logits for linspace input:", [round(v, 6) for v in traced(x)[0].tolist()])
