"""Builds the two-part TorchScript fixture used by the Grad-CAM tests (run: python3 make_fixture.py).

A 1x6x6 network exported in two parts at its feature layer, as docs/models.md tells users to export:
features.pt (3x3 convolution with 2 filters, padding 1, then ReLU: 2x6x6 feature maps) and head.pt
(flatten, then a linear layer to 3 classes). The weights are closed-form functions of their indices
so that the Java test can recompute the whole network, and Grad-CAM, by hand:

  conv.weight[k, 0, i, j] = 0.25 * (1 + k) * (i - 1) + 0.1 * (1 - 2 * k) * (j - 1) + 0.05
  conv.bias[k]            = (0.1, -0.05)[k]
  linear.weight[c, f]     = 0.3 * sin(1 + 72 * c + f)   (f = k * 36 + y * 6 + x, flatten order)
  linear.bias[c]          = (0.1, -0.2, 0.05)[c]
"""
import math

import torch
import torch.nn as nn

features = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
head = nn.Sequential(nn.Flatten(), nn.Linear(72, 3))
with torch.no_grad():
    for k in range(2):
        for i in range(3):
            for j in range(3):
                features[0].weight[k, 0, i, j] = 0.25 * (1 + k) * (i - 1) + 0.1 * (1 - 2 * k) * (j - 1) + 0.05
    features[0].bias.copy_(torch.tensor([0.1, -0.05]))
    for c in range(3):
        for f in range(72):
            head[1].weight[c, f] = 0.3 * math.sin(1 + 72 * c + f)
    head[1].bias.copy_(torch.tensor([0.1, -0.2, 0.05]))
features.eval()
head.eval()

example = torch.rand(1, 1, 6, 6)
traced_features = torch.jit.trace(features, example)
traced_head = torch.jit.trace(head, traced_features(example))
traced_features.save("features.pt")
traced_head.save("head.pt")

# Reference outputs so the Java test can check that head(features(x)) runs as PyTorch does.
x = torch.linspace(0, 1, 36).reshape(1, 1, 6, 6)
with torch.no_grad():
    print("reference logits for linspace input:",
          [round(v, 6) for v in traced_head(traced_features(x))[0].tolist()])
