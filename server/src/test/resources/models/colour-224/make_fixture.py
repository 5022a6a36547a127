"""Builds the 3x224x224 TorchScript fixture (run: /usr/bin/python3 make_fixture.py; needs Debian's
python3-torch).

A small MobileNetV2-shaped network with seeded random weights, exported in two parts at its feature
layer as docs/models.md tells users to: features.pt (strided 3x3 convolutions, a depthwise 3x3
convolution, a 1x1 expansion, batch norm and ReLU6: 16x28x28 feature maps) and head.pt (global
average pooling, flatten, a linear layer to 5 classes). It stands for a real 224-pixel colour model
in tests that every method and the CLI handle results of that size; its weights mean nothing.
"""
import torch
import torch.nn as nn

torch.manual_seed(224)
features = nn.Sequential(
    nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
    nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
    nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
    nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU6())
head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))
with torch.no_grad():
    for m in features:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
features.eval()
head.eval()

example = torch.rand(1, 3, 224, 224)
traced_features = torch.jit.trace(features, example)
traced_head = torch.jit.trace(head, traced_features(example))
traced_features.save("features.pt")
traced_head.save("head.pt")

x = torch.linspace(0, 1, 3 * 224 * 224).reshape(1, 3, 224, 224)
with torch.no_grad():
    print("reference logits for linspace input:",
          [round(v, 6) for v in traced_head(traced_features(x))[0].tolist()])
